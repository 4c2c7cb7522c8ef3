"""What a training run reports: progress bar, log file, TensorBoard scalars and validation images, mirrored to
Weights & Biases when ``logger.wandb.project`` is set and the wandb package is installed.

Only the main process reports (Runtime.is_main); other ranks get a TrainLogger with everything off.
"""
import datetime
import logging
import sys
import time

from tqdm import tqdm


class _TqdmHandler(logging.Handler):
    """Console lines that do not tear the progress bar."""

    def emit(self, record):
        if getattr(record, "file_only", False):
            return
        tqdm.write(self.format(record), file=sys.stdout)


def _fmt_value(value):
    return f"{value:.4e}" if isinstance(value, float) else str(value)


def start_wandb(wandb_opt, run_name, config):
    """Weights & Biases for this run (mirroring TensorBoard, so it must start before the SummaryWriter), or None
    with the reason when the wandb package is not installed (it is not a dependency)."""
    try:
        import wandb
    except ImportError:
        return None, "logger.wandb.project is set but the wandb package is not installed (pip install wandb); " \
                     "logging to TensorBoard only"
    resume_id = wandb_opt.get("resume_id")
    run = wandb.init(project=wandb_opt["project"], entity=wandb_opt.get("entity"), name=run_name, id=resume_id,
                     resume="allow" if resume_id else None, config=config, sync_tensorboard=True)
    return run, None


class TrainLogger:
    def __init__(self, log_file=None, tb_dir=None, start_iter=0, total_iter=0, progress=True, enabled=True,
                 wandb=None):
        """``wandb``: (logger.wandb options, run name, config) when logger.wandb.project is set."""
        self.enabled = enabled
        self._wandb = None
        # A private logger (not logging.getLogger): repeated runs in one process never stack handlers.
        self._log = logging.Logger("srgan_kit.train", level=logging.INFO)
        self._tb = None
        self._bar = None
        self._progress, self._total = progress, total_iter
        self._t0, self._i0 = time.time(), start_iter
        if not enabled:
            return
        fmt = logging.Formatter("%(asctime)s %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        console = _TqdmHandler()
        console.setFormatter(logging.Formatter("%(message)s"))
        self._log.addHandler(console)
        if log_file is not None:
            handler = logging.FileHandler(log_file, encoding="utf-8")
            handler.setFormatter(fmt)
            self._log.addHandler(handler)
        if wandb is not None:
            self._wandb, reason = start_wandb(*wandb)
            if reason:
                self.warning(reason)
        if tb_dir is not None:
            from torch.utils.tensorboard import SummaryWriter  # only when use_tb_logger is on

            self._tb = SummaryWriter(log_dir=str(tb_dir))

    def begin(self, start_iter):
        """Start the clock (and the progress bar) when the first iteration starts, not during set-up."""
        self._t0, self._i0 = time.time(), start_iter
        if self.enabled and self._progress:
            # tqdm shows it/s (or s/it) and the ETA; the postfix carries the loss and lr.
            self._bar = tqdm(total=self._total, initial=start_iter, unit="it", dynamic_ncols=True,
                             mininterval=0.5, file=sys.stderr, desc="train")

    def info(self, msg):
        self._log.info(msg)

    def warning(self, msg, file_only=False):
        """file_only: already shown on the console (e.g. by warnings.warn), so only recorded in the log."""
        self._log.warning(msg, extra={"file_only": file_only})

    def step(self, iteration, losses, lr):
        """Every iteration: advance the bar with the current loss and lr."""
        if self._bar is not None:
            self._bar.update(iteration - self._bar.n)
            self._bar.set_postfix({**{k: f"{v:.4g}" for k, v in losses.items()}, "lr": f"{lr:.2e}"}, refresh=False)

    def losses(self, iteration, epoch, losses, lrs):
        """Every print_freq iterations: one log line and TensorBoard scalars. lrs: {'g': lr, ...}."""
        if not self.enabled:
            return
        speed = (time.time() - self._t0) / max(iteration - self._i0, 1)
        eta = datetime.timedelta(seconds=int(speed * max(self._total - iteration, 0)))
        lr_text = ",".join(f"{name}={lr:.3e}" for name, lr in lrs.items())
        parts = " ".join(f"{k}: {_fmt_value(v)}" for k, v in losses.items())
        self.info(f"[epoch:{epoch:3d}, iter:{iteration:8,d}, lr:({lr_text})] [{speed:.3f} s/it, eta: {eta}] {parts}")
        if self._tb is not None:
            for key, value in losses.items():
                self._tb.add_scalar(f"losses/{key}", value, iteration)
            for name, lr in lrs.items():
                self._tb.add_scalar(f"lr/{name}", lr, iteration)

    def metrics(self, iteration, dataset_name, values):
        if not self.enabled:
            return
        parts = "  ".join(f"{k}: {v:.4f}" for k, v in values.items())
        self.info(f"Validation {dataset_name} @ iter {iteration}: {parts}")
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(f"metrics/{dataset_name}/{key}", value, iteration)

    def health(self, iteration, message, key=None):
        """A training-health warning (srgan_kit.training.health): the log, the console and TensorBoard text."""
        if not self.enabled:
            return
        self.warning(message)
        if self._tb is not None:
            self._tb.add_text("health", message, iteration)

    @property
    def wants_images(self):
        """Whether :meth:`image` records anything (TensorBoard is on)."""
        return self._tb is not None

    def image(self, iteration, tag, picture):
        """A uint8 HxWx3 picture (a validation image's LR | SR | GT) under ``tag``."""
        if self._tb is not None:
            self._tb.add_image(tag, picture, iteration, dataformats="HWC")

    def close(self):
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
        for handler in list(self._log.handlers):
            handler.close()
            self._log.removeHandler(handler)

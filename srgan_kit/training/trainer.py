"""The training loop: build, (resume,) iterate, validate, log, checkpoint.

    result = train(load_options("options/demo.yml"), auto_resume=False)

What each iteration does belongs to the model type (srgan_kit.models); device and precision live in
runtime.py, the run folder in srgan_kit.run_folder, files in checkpoint.py, reporting in logger.py. Everything
with side effects on disk is done by the main process only (``runtime.is_main``).
"""
import contextlib
import copy
import os
import random
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from srgan_kit.config.options import constructor_spec, public_options, save_options
from srgan_kit.data.channels import GreyItems, as_rgb
from srgan_kit.data.imageio import save_image
from srgan_kit.device import precision_name
from srgan_kit import fileio
from srgan_kit.errors import OptionError, RunFolderLost, TrainingDiverged, TrainingInterrupted, UserError, listing
from srgan_kit.eval.compare import comparison_row
from srgan_kit.config.schema import DEFAULT_METRICS, LOADER_FIELDS, network_channels
from srgan_kit.eval.conventions import Scorer, to_levels
from srgan_kit.inference import forward_padded
from srgan_kit.registry import DATASETS, MODEL_TYPES
from srgan_kit import distributed
from srgan_kit.training import checkpoint
from srgan_kit.eval.colour import colour_shift
from srgan_kit.training.health import HealthMonitor, ValidationHealth
from srgan_kit import run_lock
from srgan_kit.run_folder import prepare_run_folder
from srgan_kit.training.logger import TrainLogger
from srgan_kit.training.optim import update_learning_rate
from srgan_kit.training.runtime import Runtime


@dataclass
class TrainResult:
    start_iteration: int  # where this call began (0, or the resumed iteration)
    iteration: int  # the last iteration trained
    losses: dict = field(default_factory=dict)  # of the last iteration
    lrs: dict = field(default_factory=dict)  # learning rates used at the last iteration, by optimiser
    metrics: dict = field(default_factory=dict)  # last validation: {dataset name: {metric: value}}
    checkpoint: str = ""  # models/net_g_<iteration>.pth


def train(opt, auto_resume=False, progress=True):
    """Run (or resume) the training described by a resolved options dict; return a TrainResult.

    Everything that can fail on the user's input (datasets, networks, losses and their weights files, the
    pretrained or resumed weights) is built before the run folder is touched, so a run that cannot start
    leaves an earlier run of the same name as it was."""
    opt = copy.deepcopy(opt)
    paths = opt["path"]
    resuming = auto_resume or paths.get("resume_state")
    with option_file_in_errors(opt.get("_file"), Path(paths["experiments_root"]) if resuming else None), \
            warnings.catch_warnings(record=True) as building:
        warnings.simplefilter("always")  # shown below through the log, which also records them in its file
        runtime = Runtime.from_options(opt)
        if runtime.is_main:
            run_lock.check_free(paths["experiments_root"])  # before anything is built or written
        seed = seed_everything(opt, runtime.rank)
        run = build_run(opt, runtime, seed, auto_resume)
    lock = run_lock.acquire(paths["experiments_root"]) if runtime.is_main else None
    try:
        return _train_in_folder(opt, runtime, run, seed, building, progress)
    finally:
        if lock is not None:
            run_lock.release(lock)


def _train_in_folder(opt, runtime, run, seed, building, progress):
    """The part of a run that writes: the run folder (archived first when it holds an earlier run), its log and
    options (with the warnings ``building`` the run caught), then the training loop."""
    paths, state = opt["path"], run.state
    start_iter, total_iter = (int(state["iter"]) if state else 0), int(opt["train"]["total_iter"])
    archived = prepare_run_folder(paths, resuming=state is not None) if runtime.is_main else None
    name, root = opt["name"], Path(paths["experiments_root"])
    stamp = time.strftime("%Y%m%d_%H%M%S")
    wandb_opt = opt["logger"]["wandb"]
    log = TrainLogger(log_file=root / f"train_{name}_{stamp}.log",
                      tb_dir=root / "tb_logger" if opt["logger"]["use_tb_logger"] else None,
                      start_iter=start_iter, total_iter=total_iter, progress=progress, enabled=runtime.is_main,
                      wandb=(wandb_opt, name, public_options(opt)) if wandb_opt["project"] else None)
    try:
        if archived:
            log.info(f"Existing run folder archived as {archived}")
        stale = fileio.remove_temporary_files(root) if runtime.is_main else []
        if stale:
            log.info(f"Removed {len(stale)} unfinished temporary file(s) of an interrupted run: "
                     f"{listing(p.name for p in stale)}")
        for text in opt.get("_warnings") or ():  # option warnings also go to the log file
            log.warning(text, file_only=True)
        for caught in building:  # what building the run warned about (skipped images, ...)
            log.warning(str(caught.message))
        if runtime.is_main:
            save_options(opt, root / f"train_{name}_{stamp}.yml")
        if state:
            log.info(f"Resumed from {run.state_file} at iteration {start_iter} (epoch {run.loader.epoch})")
        repeats = run.loader.sampler.repeats
        log.info(f"Training {name} ({run.model_type.name}) on {runtime.device} in "
                 f"{precision_name(runtime.amp_dtype)}, seed {seed}: {len(run.loader.dataset)} training samples"
                 + (f" (x{repeats} per epoch to fill a batch)" if repeats > 1 else "")
                 + f", iterations {start_iter + 1}..{total_iter}")
        if getattr(run.step, "batch_augment", None) is not None:
            log.info(run.step.batch_augment.describe())
        loop = Loop(opt, runtime, run.step, run.loader, run.val_loaders, run.scorer, log)
        loop.best = (state or {}).get("best")  # the best validation so far survives a resume
        return loop.run(start_iter, total_iter)
    finally:
        log.close()


@contextlib.contextmanager
def option_file_in_errors(file, run_dir=None):
    """User errors raised inside get the option file in front, so the message says where to fix it; a run
    being resumed also gets the message at the end of its newest log file."""
    try:
        yield
    except UserError as exc:
        if file and not str(exc).startswith(str(file)):
            exc.args = (f"{file}: {exc}",)
        logs = sorted(run_dir.glob("train_*.log")) if run_dir is not None and run_dir.is_dir() else []
        if logs:
            with open(logs[-1], "a", encoding="utf-8") as handle:
                handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} ERROR: the run could not resume: {exc}\n")
        raise


@dataclass
class Run:
    """What build_run returns: everything a run needs before the loop starts."""

    model_type: object  # the registered ModelType
    step: object  # its training step (networks, losses, optimisers)
    loader: object  # the training InfiniteLoader (prefetch_mode cuda: in a DevicePrefetcher)
    val_loaders: dict  # {set name: DataLoader}
    scorer: object  # Scorer of val.metrics, or None without validation
    state: dict = None  # the training state being resumed
    state_file: object = None


def build_run(opt, runtime, seed, auto_resume):
    """Everything a run needs, built and loaded before anything is written: model type, step (networks,
    losses, optimisers; pretrained or resumed weights), data loaders and the validation scorer."""
    paths = opt["path"]
    model_type = MODEL_TYPES.get(opt["model_type"], where="model_type")
    state_file = find_resume_state(paths, auto_resume)
    state = checkpoint.load_training_state(state_file) if state_file else None
    if state and state.get("model_type", "sr") != model_type.name:
        raise OptionError(f"model_type: {model_type.name!r}, but {state_file} was saved by a "
                          f"{state.get('model_type')!r} run")
    loader = build_train_loader(opt, runtime, int(opt["manual_seed"]))  # one order for all processes
    val_loaders = build_val_loaders(opt) if opt.get("val") else {}  # no val section: no validation
    scorer = None
    if val_loaders:
        scorer = Scorer(opt["val"].get("metrics") or DEFAULT_METRICS, opt["scale"], where="val.metrics")
    step = model_type.step(opt, runtime)
    if state:
        checkpoint.resume_networks(state_file, int(state["iter"]), step.networks_to_save())
        step.load_state_dict(state["step"])
        loader.load_state_dict(state["loader"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        # Last, after building consumed random numbers; each process its own (rank 0's in another world size).
        checkpoint.restore_rng(ranks[runtime.rank] if len(ranks) == runtime.world_size else state["rng"])
    else:
        step.load_pretrained()
    return Run(model_type, step, loader, val_loaders, scorer, state, state_file)


class Loop:
    def __init__(self, opt, runtime, step, loader, val_loaders, scorer, log):
        self.opt, self.runtime, self.step, self.loader, self.val_loaders, self.scorer, self.log = (
            opt, runtime, step, loader, val_loaders, scorer, log)
        self.paths = opt["path"]
        self.print_freq = opt["logger"]["print_freq"]
        self.save_freq = opt["logger"]["save_checkpoint_freq"]
        self.save_format = opt["logger"]["save_format"]
        self.val_freq = opt["val"]["val_freq"] if val_loaders else 0
        self.save_img = bool(val_loaders) and opt["val"]["save_img"]
        self.warmup_iter = opt["train"]["warmup_iter"]
        self.nan_tolerance = opt["train"]["nan_tolerance"]
        self.micro = opt["train"]["accumulate_grad_batches"]
        self.saved = None  # the last iteration whose networks and state are on disk
        self.skipped_in_a_row = self.skipped_total = 0
        health = opt["train"]["health"]
        self.early_stop, self.stop_reason = set(opt["train"]["early_stop"]), None
        train = opt["train"]
        d_warmup = (train.get("net_d_init_iters") or 0) + max((train.get("gan_opt") or {}).get("warmup_iter") or 0, 0)
        self.health = HealthMonitor(health["patience"], health["gan_to_pix"], warn=self.on_health,
                                    d_chance=health["d_chance"], d_warmup=d_warmup)
        self.val_health = ValidationHealth(health["psnr_drop"], health["colour_shift"], warn=self.on_health)
        # val.best_metric (default: the first validation metric) on the first validation set -> net_g_best
        self.best, self.best_metric = None, None
        if val_loaders:
            self.psnr_scorer = Scorer(["psnr"], opt["scale"], where="val.metrics")  # the online G's, beside EMA's
            self.best_metric = opt["val"]["best_metric"] or scorer.keys[0]
            self.best_better = scorer.header()["better"].get(self.best_metric, "higher")

    def run(self, start_iter, total_iter):
        losses, lrs, metrics = {}, {}, {}
        self.saved, validated = (start_iter or None), None
        t0 = time.time()
        self.log.begin(start_iter)
        with StopSignals() as stop:
            for it in range(start_iter + 1, total_iter + 1):
                update_learning_rate(it, self.step.optimizers.values(), self.step.schedulers.values(),
                                     self.warmup_iter)
                lrs = {k: o.param_groups[0]["lr"] for k, o in self.step.optimizers.items()}
                batch = next(self.loader) if self.micro == 1 else [next(self.loader) for _ in range(self.micro)]
                losses = self.step.run(batch, it)
                self.check_folder(it)
                self.check_skipped(it)
                extra = self.health.observe(it, losses, self.step.grad_norms)  # this process's numbers: no collective
                self.log.step(it, losses, next(iter(lrs.values())))
                if it % self.print_freq == 0:
                    self.log.losses(it, self.loader.epoch, {**distributed.averaged(losses), **extra}, lrs)
                if it % self.save_freq == 0:
                    self.save(it)
                if self.val_freq and it % self.val_freq == 0:
                    metrics, validated = self.validate(it), it
                if self.early_stop and distributed.same_everywhere(self.stop_reason):
                    if self.saved != it:
                        self.save(it)
                    self.log.info(f"Early stop at iteration {it} (train.early_stop): {self.stop_reason}")
                    total_iter = it
                    break
                received = distributed.largest(stop.received)  # every process stops at this iteration
                if received:
                    if self.saved != it:
                        self.save(it)
                    raise TrainingInterrupted(
                        f"{signal.Signals(received).name} at iteration {it}: its complete training state is saved "
                        f"({checkpoint.state_path(self.paths['training_states'], it)})",
                        distributed.launch_command(f"tools/train.py -opt {self.opt.get('_file', 'OPTIONS.yml')} "
                                                   "--auto_resume"))
        final = max(start_iter, total_iter)
        if self.saved != final:
            self.save(final)
        if self.runtime.is_main:  # BasicSR's net_g_latest.pth, for tools that want "the last one"
            with self.step.averaged_weights():
                checkpoint.save_networks(self.paths["models"], "latest", self.step.networks_to_save(),
                                         self.save_format)
        if self.val_loaders and validated != final:
            metrics = self.validate(final)
        self.log.info(f"End of training at iteration {final} ({time.time() - t0:.1f} s)")
        return TrainResult(start_iter, final, losses, lrs, metrics,
                           str(checkpoint.network_path(self.paths["models"], "net_g", final, self.save_format)))

    def check_folder(self, iteration):
        """Stop when the run folder was deleted under the run: writing on would recreate parts of it silently,
        without the log and options that say what they are."""
        root = self.paths["experiments_root"]
        if self.runtime.is_main and not os.path.isdir(root):
            raise RunFolderLost(f"{root}: the run folder was deleted while the run was writing to it; stopped at "
                                f"iteration {iteration} without saving (start the run again)")

    def check_skipped(self, iteration):
        """Count iterations whose updates were skipped (non-finite loss or gradient); too many in a row end the
        run with the last good weights as ``*_latest``."""
        if not self.step.skipped:
            self.skipped_in_a_row = 0
            return
        self.skipped_in_a_row += 1
        self.skipped_total += 1
        what = "; ".join(f"{key} update skipped: {term}" for key, term in self.step.skipped)
        self.log.warning(f"iteration {iteration}: {what} ({self.skipped_in_a_row} in a row, "
                         f"{self.skipped_total} in total)")
        if self.skipped_in_a_row >= self.nan_tolerance:
            raise TrainingDiverged(f"training diverged at iteration {iteration}: {what}, {self.skipped_in_a_row} "
                                   f"iterations in a row (train.nan_tolerance: {self.nan_tolerance}); "
                                   f"{self.keep_last_good()}")

    def keep_last_good(self):
        """Make the last saved networks the ``*_latest`` files; says which iteration that is."""
        if self.saved is None or not self.runtime.is_main:
            return "no checkpoint was saved before it"
        for name, by_key in self.step.networks_to_save().items():
            for key in by_key:  # every file of that iteration (safetensors: one per key)
                source = checkpoint.network_path(self.paths["models"], name, self.saved, self.save_format, key)
                latest = checkpoint.network_path(self.paths["models"], name, "latest", self.save_format, key)
                with fileio.atomic_open(latest, fsync=True) as out:
                    out.write(source.read_bytes())
        return f"the last good weights are in {self.paths['models']}/*_latest{latest.suffix} (iteration {self.saved})"

    def save(self, iteration):
        self.saved = iteration
        rng = distributed.gathered(checkpoint.capture_rng())  # every process's, for a resume of all of them
        with self.step.averaged_weights():  # a schedule-free optimiser's networks are saved averaged
            step_state = self.step.state_dict()  # in every process: a step may gather per-process state
            if self.runtime.is_main:
                state = {"epoch": self.loader.epoch, "loader": self.loader.state_dict(),
                         "model_type": self.opt["model_type"], "step": step_state,
                         "rng": rng[0], "rng_ranks": rng, "best": self.best}
                checkpoint.save_checkpoint(self.paths, iteration, self.step.networks_to_save(), state,
                                           self.save_format)
                self.log.info(f"Saved models and training state of iteration {iteration}")
                removed = checkpoint.remove_other_formats(self.paths["models"], self.save_format)
                if removed:  # a resume that changed logger.save_format: no stale "latest" of the other format
                    self.log.info(f"logger.save_format is {self.save_format}: removed {listing(removed)} "
                                  "(older weights)")

    def validate(self, iteration):
        if not self.runtime.is_main:
            return {}
        with self.step.averaged_weights():  # a schedule-free optimiser's result is its average
            return self._validate(iteration)

    def _validate(self, iteration):
        vis_dir = Path(self.paths["visualization"]) if self.save_img else None
        shifts = []

        def each_image(set_name, img_name, lq, sr, gt, scores):
            shifts.append(colour_shift(sr, gt))
            if self.log.wants_images:  # LR | SR | GT, the same crop, with the scores
                row = comparison_row(gt, [(f"SR @ {iteration}", sr, scores)], lq, self.opt["scale"], name=img_name)
                self.log.image(iteration, f"val/{set_name}/{img_name}", row)

        metrics = score_network(self.step.eval_network(), self.val_loaders, self.scorer, iteration, self.runtime,
                                vis_dir, each_image)
        for name, values in metrics.items():
            self.log.metrics(iteration, name, values)
        first = next(iter(metrics.values()), {})
        if self.step.ema is not None and "psnr" in first:
            self.log_ema_gap(iteration, first["psnr"])
        self.val_health.observe(iteration, first.get("psnr"), max(shifts, default=0.0))
        self.keep_best(iteration, first.get(self.best_metric))
        return metrics

    def log_ema_gap(self, iteration, ema_psnr):
        """The first validation set's PSNR of the online generator beside the EMA's (which validation scores)."""
        name, loader = next(iter(self.val_loaders.items()))
        online = score_network(self.runtime.bare(self.step.net_g), {name: loader}, self.psnr_scorer, iteration,
                               self.runtime)
        psnr = online[name].get("psnr")
        if psnr is not None:
            self.log.metrics(iteration, f"{name} (online G)", {"psnr": psnr, "ema_gap": ema_psnr - psnr})

    def on_health(self, iteration, message, key):
        """A health warning: logged; with its key in train.early_stop, the run ends after this iteration."""
        self.log.health(iteration, message)
        if key in self.early_stop and self.stop_reason is None:
            self.stop_reason = message

    def keep_best(self, iteration, value):
        """models/net_g_best.pth (or .safetensors): the generator of the best validation so far."""
        if value is None:
            return
        old = None if self.best is None else self.best["value"]
        if old is not None and not (value > old if self.best_better == "higher" else value < old):
            return
        checkpoint.save_networks(self.paths["models"], "best", {"net_g": self.step.networks_to_save()["net_g"]},
                                 self.save_format)
        self.best = {"metric": self.best_metric, "value": value, "iter": iteration}
        self.log.info(f"Best {self.best_metric} so far ({value:.4f}) at iteration {iteration}: saved as net_g_best")


def to_image(tensor):
    """First image of an NCHW batch -> HxWx3 float32 numpy array (values as the network gave them; a grey
    network's one channel repeated)."""
    return as_rgb(tensor[0].detach().float().permute(1, 2, 0).cpu().numpy())


@torch.no_grad()
def score_network(net, loaders, scorer, iteration, runtime, vis_dir=None, on_image=None):
    """Mean of each metric over each validation set, scored as srgan_kit.eval.conventions says (the same
    numbers tools/evaluate.py gives); saves visualization/<img>/<img>_<iter>.png if asked; ``on_image(set name,
    image name, lq, sr, gt, scores)`` (HxWx3 arrays) sees every image."""
    net.eval()
    results = {}
    for set_name, loader in loaders.items():
        images = {}
        for batch in loader:
            batch = runtime.to_device(batch)
            with runtime.autocast():
                sr = to_image(forward_padded(net, batch["lq"]))
            img_name = Path(batch["lq_path"][0]).stem  # BasicSR names images after the LQ file
            gt = to_image(batch["gt"])
            images[img_name] = scorer.score(sr, gt, batch["gt_path"][0], f"SR of {img_name}")
            if on_image is not None:
                on_image(set_name, img_name, to_image(batch["lq"]), sr, gt, images[img_name])
            if vis_dir is not None:
                save_image(vis_dir / img_name / f"{img_name}_{iteration}.png", to_levels(sr) / 255.0)
        means = scorer.finish({"datasets": {set_name: {"images": images}}})["datasets"][set_name]["mean"]
        results[set_name] = {k: v for k, v in means.items() if v is not None}  # unavailable metrics: not logged
    return results


class StopSignals:
    """SIGINT / SIGTERM (what schedulers send before a kill) ask the loop to finish the iteration, save and stop;
    a second signal stops at once. Handlers are installed only in the main thread, and restored on exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received, self._previous = 0, {}  # the signal's number, 0 for none

    def _handle(self, signum, _frame):
        if self.received:  # the second one: abort now
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} again: stopped at once, without saving")
        self.received = int(signum)
        print(f"{signal.Signals(signum).name}: finishing this iteration and saving the training state (again to "
              "abort at once)", file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def find_resume_state(paths, auto_resume):
    """path.resume_state if set; else with auto_resume the newest complete state of this run; else None."""
    if paths.get("resume_state"):
        return Path(paths["resume_state"])
    if auto_resume:
        return checkpoint.find_latest_state(paths["training_states"])
    return None


def seed_everything(opt, rank=0):
    """Seed python, numpy and torch from manual_seed (+ the rank: processes draw different noise; the data
    order and augmentation come from manual_seed alone, see runtime.EpochSampler)."""
    seed = int(opt["manual_seed"]) + rank  # load_options draws one when the file has none
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def build_dataset(spec, where, network=None):
    """A dataset from its options; loader keys (batch_size_per_gpu, ...) are not dataset arguments. Its images
    get the channel counts of ``network`` (the network_g section: grey networks take grey images)."""
    dataset = DATASETS.build(constructor_spec(spec, DATASETS), where=where)
    channels = network_channels(network or {})
    return dataset if channels == (3, 3) else GreyItems(dataset, *channels, label=where)


def build_train_loader(opt, runtime, seed):
    spec = opt["datasets"]["train"]
    dataset = build_dataset(spec, "datasets.train", opt["network_g"])
    return runtime.train_loader(dataset, spec["batch_size_per_gpu"], spec["num_worker_per_gpu"], spec["use_shuffle"],
                                seed, **{k: spec[k] for k in LOADER_FIELDS if k in spec})


def build_val_loaders(opt):
    """{dataset name: DataLoader} for every datasets.val* entry (one image per batch, whole images)."""
    loaders = {}
    for key, spec in (opt.get("datasets") or {}).items():
        if key.startswith("val"):
            name = spec.get("name") or key
            name = name if name not in loaders else f"{name}_{key}"
            loaders[name] = DataLoader(build_dataset(spec, f"datasets.{key}", opt["network_g"]), batch_size=1,
                                       shuffle=False)
    return loaders

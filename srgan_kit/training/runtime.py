"""Where and how training runs, decided in one place.

Runtime holds the device, the autocast dtype (``train.amp``), the memory format (``train.channels_last``), the
compile mode (``train.compile``) and the process rank. Networks (G, D, the perceptual trunk, validation),
batches, autocast contexts, gradient scalers and the training sampler all come from here. Losses, the gradient
penalty, the EMA and checkpoints stay fp32: autocast only changes the dtype inside network forwards.
"""
import contextlib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Sampler

from srgan_kit.data.datasets import SampleKey
from srgan_kit.device import resolve_device, resolve_precision
from srgan_kit.errors import DataError
from srgan_kit import distributed
from srgan_kit.training import prefetch


def unwrap(net):
    """The network inside (Distributed)DataParallel / compile wrappers: what is saved, loaded and averaged."""
    while isinstance(getattr(net, "module", None), torch.nn.Module):
        net = net.module
    return net


@dataclass
class Runtime:
    device: torch.device = torch.device("cpu")
    amp_dtype: torch.dtype | None = None  # None: fp32; torch.bfloat16 / torch.float16 under autocast
    channels_last: bool = False
    compile_mode: str | None = None  # None: eager; 'default' / 'max-autotune-no-cudagraphs': torch.compile
    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_options(cls, opt):
        rank, world_size = distributed.world()
        device = resolve_device(num_gpu=opt["num_gpu"])
        if device.type == "cuda" and world_size > 1:
            device = torch.device("cuda", torch.cuda.current_device())  # this process's GPU (LOCAL_RANK)
        train = opt.get("train") or {}
        if device.type == "cuda":  # TF32 matmuls / convolutions: fp32 accuracy for SR, tensor-core speed
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            # cuDNN's autotuner may pick other kernels in another process: fast, but not bit-reproducible
            torch.backends.cudnn.benchmark = not opt.get("deterministic")
            torch.backends.cudnn.deterministic = bool(opt.get("deterministic"))
            if opt.get("deterministic"):
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic cuBLAS needs
                torch.use_deterministic_algorithms(True, warn_only=True)
        return cls(device=device, amp_dtype=resolve_precision(train.get("amp", "fp32"), device),
                   channels_last=bool(train.get("channels_last")), compile_mode=train.get("compile") or None,
                   rank=rank, world_size=world_size)

    @property
    def is_main(self):
        """The one check for rank-0-only side effects: logs, checkpoints, validation images."""
        return self.rank == 0

    @property
    def memory_format(self):
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare(self, net):
        """Move a network to the device and memory format (networks the run trains then go through trained)."""
        return net.to(self.device, memory_format=self.memory_format)

    def trained(self, net):
        """A network the run trains (G, D): through torch.compile when train.compile is set, then in
        DistributedDataParallel when there are several processes (compiled first, as PyTorch advises)."""
        if self.compile_mode is not None:
            net = CompileFallback(net, torch.compile(net, mode=self.compile_mode))
        return distributed.wrap(net, self.device)

    bare = staticmethod(unwrap)

    def to_device(self, batch):
        """Tensors of a batch dict to the device (4-D ones in the chosen memory format)."""
        out = {}
        for key, value in batch.items():
            if torch.is_tensor(value):
                fmt = self.memory_format if value.dim() == 4 else torch.preserve_format
                value = value.to(self.device, memory_format=fmt, non_blocking=True)
            out[key] = value
        return out

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self):
        """A scaler that only scales for fp16 on CUDA; otherwise its calls pass through."""
        enabled = self.amp_dtype == torch.float16 and self.device.type == "cuda"
        return torch.amp.GradScaler(self.device.type, enabled=enabled)

    def sampler(self, dataset, shuffle, seed, repeats=1):
        """The training sampler: this process's share of each epoch."""
        return EpochSampler(len(dataset), shuffle=shuffle, seed=seed, repeats=repeats, rank=self.rank,
                            world_size=self.world_size)

    def train_loader(self, dataset, batch_size, num_workers, shuffle, seed, pin_memory=True, persistent_workers=True,
                     prefetch_factor=None, prefetch_mode=None, num_prefetch_queue=None):
        """The training batches (datasets.train's loader keys; srgan_kit.training.prefetch for prefetch_mode)."""
        # A set smaller than one batch is repeated within each epoch (BasicSR: dataset_enlarge_ratio).
        repeats = max(1, math.ceil(batch_size * self.world_size / max(len(dataset), 1)))
        sampler = self.sampler(dataset, shuffle, seed, repeats)
        ahead = prefetch.device_prefetch(self.device, prefetch_mode)  # copies from page-locked memory
        loader = InfiniteLoader(dataset, sampler, batch_size, num_workers, seed,
                                pin_memory=self.device.type == "cuda" and (pin_memory or ahead),
                                persistent_workers=persistent_workers, prefetch_factor=prefetch_factor,
                                samples_per_epoch=sampler.per_rank)
        if ahead:
            return prefetch.DevicePrefetcher(loader, prefetch.StreamCopy(self.device, self.to_device),
                                             num_prefetch_queue)
        return loader


class CompileFallback(torch.nn.Module):
    """A compiled network that falls back to the eager one, with one warning, if compiling fails (compilers
    fail at the first call, not at torch.compile). ``module`` is the eager network: it owns the parameters."""

    def __init__(self, net, compiled):
        super().__init__()
        self.module = net
        object.__setattr__(self, "_compiled", compiled)  # not a submodule: the parameters are listed once

    def forward(self, *args, **kwargs):
        if self._compiled is not None:
            try:
                return self._compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001  (any compiler failure: the eager network still works)
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                warnings.warn(f"torch.compile of {type(self.module).__name__} failed ({reason}); running it "
                              "uncompiled", stacklevel=2)
                object.__setattr__(self, "_compiled", None)
        return self.module(*args, **kwargs)


def sample_seed(seed, epoch, position):
    """The seed of one sample's augmentation: a function of (run seed, epoch, position in the epoch's order)
    only, so it does not depend on the number of processes, workers or the batch a sample lands in."""
    digest = hashlib.sha256(f"{seed}:{epoch}:{position}".encode()).digest()
    return int.from_bytes(digest[:7], "little")  # fits an int64 tensor when collated


class EpochSampler(Sampler):
    """The training order: shuffled with a generator seeded by (seed, epoch), shared out among processes, and
    able to start mid-epoch.

    The order of epoch e depends only on (seed, e), and position p of it goes to process ``p % world_size``;
    each yields SampleKeys carrying the sample's own augmentation seed. So a resumed run sees the same
    batches as an uninterrupted one (``start`` skips what this process consumed before the checkpoint), and
    2 processes x batch b see the samples, crops and flips of 1 process x batch 2b. An epoch is ``repeats``
    shuffled passes over the data, cut to a multiple of ``world_size``.
    """

    def __init__(self, num_samples, shuffle=True, seed=0, repeats=1, rank=0, world_size=1):
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = int(seed)
        self.repeats = int(repeats)
        self.rank, self.world_size = int(rank), int(world_size)
        self.per_rank = num_samples * self.repeats // self.world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch, start=0):
        self.epoch, self.start = epoch, start

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = []
        for _ in range(self.repeats):
            order += torch.randperm(self.num_samples, generator=g).tolist() if self.shuffle else list(
                range(self.num_samples))
        positions = range(self.rank, self.per_rank * self.world_size, self.world_size)
        keys = [SampleKey(order[p], sample_seed(self.seed, self.epoch, p)) for p in positions]
        return iter(keys[self.start:])

    def __len__(self):
        return self.per_rank - self.start


WORKER_TIMEOUT = 600  # seconds a batch may take in a worker before the run stops instead of hanging


class InfiniteLoader:
    """Batches forever, epoch after epoch (drop_last), remembering (epoch, batch) for resume.

    One DataLoader serves every epoch; with workers they are persistent (unless persistent_workers is off), so a
    short epoch (a small set) does not start new worker processes each time.
    """

    def __init__(self, dataset, sampler, batch_size, num_workers=0, seed=0, pin_memory=False,
                 samples_per_epoch=None, persistent_workers=True, prefetch_factor=None):
        samples = len(dataset) if samples_per_epoch is None else samples_per_epoch
        self.per_epoch = samples // batch_size
        if self.per_epoch == 0:
            raise DataError(f"datasets.train: {len(dataset)} training samples, fewer than "
                            f"batch_size_per_gpu={batch_size}")
        self.dataset, self.sampler, self.batch_size = dataset, sampler, batch_size
        self.seed = int(seed)
        # Own generator: worker seeds depend on (seed, epoch) and the global torch RNG is untouched.
        self._generator = torch.Generator()
        self._loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                                  num_workers=num_workers, persistent_workers=persistent_workers and num_workers > 0,
                                  prefetch_factor=prefetch_factor, pin_memory=pin_memory, generator=self._generator,
                                  timeout=WORKER_TIMEOUT if num_workers > 0 else 0)
        self.epoch, self.batch = 0, 0
        self._it = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.batch >= self.per_epoch:
            self.epoch, self.batch, self._it = self.epoch + 1, 0, None
        if self._it is None:
            self._it = self._open_epoch()
        try:
            data = next(self._it)
        except RuntimeError as exc:  # a worker killed (out of memory) or silent past the timeout
            if "DataLoader" not in str(exc):
                raise
            first = str(exc).strip().splitlines()[0]
            raise DataError(f"datasets.train ({type(self.dataset).__name__}): {first}; lower num_worker_per_gpu "
                            "or free memory, then continue with --auto_resume") from None
        self.batch += 1
        return data

    def _open_epoch(self):
        self.sampler.set_epoch(self.epoch, start=self.batch * self.batch_size)
        self._generator.manual_seed(self.seed + self.epoch)
        return iter(self._loader)

    def state_dict(self):
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state):
        self.epoch, self.batch, self._it = int(state["epoch"]), int(state["batch"]), None

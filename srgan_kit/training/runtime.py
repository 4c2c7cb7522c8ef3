"""Where and how training runs, decided in one place.

Runtime holds the device, the autocast dtype, the memory format and the process rank. Networks,
batches, autocast contexts, gradient scalers and the training sampler all come from here, so that
bf16 / channels_last / DistributedDataParallel become options later rather than edits all over the
trainer. Defaults: fp32, contiguous memory, a single process.
"""
import contextlib
import math
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Sampler

from srgan_kit.device import resolve_device
from srgan_kit.errors import DataError


@dataclass
class Runtime:
    device: torch.device = torch.device("cpu")
    amp_dtype: torch.dtype | None = None  # None: fp32; torch.bfloat16 / torch.float16 under autocast
    channels_last: bool = False
    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_options(cls, opt):
        return cls(device=resolve_device(num_gpu=opt["num_gpu"]))

    @property
    def is_main(self):
        """The one check for rank-0-only side effects: logs, checkpoints, validation images."""
        return self.rank == 0

    @property
    def memory_format(self):
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare(self, net):
        """Move a network to the device and memory format (a DDP wrapper would go here)."""
        return net.to(self.device, memory_format=self.memory_format)

    @staticmethod
    def bare(net):
        """The underlying module of a (Distributed)DataParallel wrapper."""
        return getattr(net, "module", net)

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
        """The training sampler (the seam for a DistributedSampler-like one under torchrun)."""
        return EpochSampler(len(dataset), shuffle=shuffle, seed=seed, repeats=repeats)

    def train_loader(self, dataset, batch_size, num_workers, shuffle, seed):
        # A set smaller than one batch is repeated within each epoch (BasicSR: dataset_enlarge_ratio).
        repeats = max(1, math.ceil(batch_size / max(len(dataset), 1)))
        return InfiniteLoader(dataset, self.sampler(dataset, shuffle, seed, repeats), batch_size, num_workers,
                              seed, pin_memory=self.device.type == "cuda", samples_per_epoch=len(dataset) * repeats)


class EpochSampler(Sampler):
    """Shuffles with a generator seeded by (seed, epoch) and can start mid-epoch.

    The order of epoch e depends only on (seed, e), so a resumed run sees the same batches as an
    uninterrupted one; ``start`` skips the samples already consumed before the checkpoint. An epoch is
    ``repeats`` shuffled passes over the data.
    """

    def __init__(self, num_samples, shuffle=True, seed=0, repeats=1):
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = int(seed)
        self.repeats = int(repeats)
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
        return iter(order[self.start:])

    def __len__(self):
        return self.num_samples * self.repeats - self.start


class InfiniteLoader:
    """Batches forever, epoch after epoch (drop_last), remembering (epoch, batch) for resume.

    One DataLoader serves every epoch; with workers they are persistent, so a short epoch (a small
    set) does not start new worker processes each time.
    """

    def __init__(self, dataset, sampler, batch_size, num_workers=0, seed=0, pin_memory=False,
                 samples_per_epoch=None):
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
                                  num_workers=num_workers, persistent_workers=num_workers > 0,
                                  pin_memory=pin_memory, generator=self._generator)
        self.epoch, self.batch = 0, 0
        self._it = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.batch >= self.per_epoch:
            self.epoch, self.batch, self._it = self.epoch + 1, 0, None
        if self._it is None:
            self._it = self._open_epoch()
        data = next(self._it)
        self.batch += 1
        return data

    def _open_epoch(self):
        if hasattr(self.sampler, "set_epoch"):
            try:
                self.sampler.set_epoch(self.epoch, start=self.batch * self.batch_size)
            except TypeError:  # a sampler without mid-epoch start (e.g. DistributedSampler)
                self.sampler.set_epoch(self.epoch)
        self._generator.manual_seed(self.seed + self.epoch)
        return iter(self._loader)

    def state_dict(self):
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state):
        self.epoch, self.batch, self._it = int(state["epoch"]), int(state["batch"]), None

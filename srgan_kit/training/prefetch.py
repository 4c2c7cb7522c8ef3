"""Training batches copied to the GPU ahead of the step (``datasets.train.prefetch_mode: cuda``, BasicSR's key).

:class:`DevicePrefetcher` wraps the training InfiniteLoader: while step n runs, batch n+1 (up to
``num_prefetch_queue`` batches) is already being copied to the device on a side stream from page-locked memory.
Each batch's copy ends with an event; the step's stream waits for that event before it uses the batch, and every
copied tensor is recorded on the step's stream so the allocator does not hand its memory to the next copy while
the step still reads it (what BasicSR's CUDAPrefetcher leaves out). Only floating-point tensors are copied: the
steps read the per-sample seeds (integer tensors) on the CPU.

Resume counts the batches the step consumed, not the ones prefetched: ``state_dict``, ``epoch`` and ``batch`` are
the loader's as they were right after the last batch handed out, so a run saved and resumed here sees the batches
of an uninterrupted one, and of one without prefetching. The copying is a :class:`StreamCopy`; anything with its
``start`` / ``hand_over`` methods can stand in for it (the tests use one on the CPU).
"""
import warnings
from collections import deque

import torch


def device_prefetch(device, prefetch_mode):
    """Whether batches are copied ahead to ``device``: prefetch_mode 'cuda' on a CUDA device. Off CUDA, 'cuda' is
    ignored with one warning (the same option file runs on a CPU-only machine); None / 'cpu' are the data loader's
    own prefetching (its workers load prefetch_factor batches each)."""
    if prefetch_mode != "cuda":
        return False
    if torch.device(device).type != "cuda":
        warnings.warn(f"datasets.train.prefetch_mode: 'cuda' needs a CUDA device (this run trains on {device}); "
                      "ignored", stacklevel=3)
        return False
    return True


class StreamCopy:
    """Copies batches to a CUDA device on a stream of their own. ``move``: a batch dict -> the same on the device
    (Runtime.to_device: the run's memory format)."""

    def __init__(self, device, move):
        self.device, self.move = torch.device(device), move
        self.stream = torch.cuda.Stream(self.device)

    def start(self, batch):
        """Queue the copies of ``batch``'s floating-point tensors; returns (the batch as the step will see it, an
        event that completes with its copies)."""
        floats = {k: v for k, v in batch.items() if torch.is_tensor(v) and v.is_floating_point()}
        with torch.cuda.stream(self.stream):
            moved = {**batch, **self.move(floats)}
            done = torch.cuda.Event()
            done.record(self.stream)
        return moved, done

    def hand_over(self, batch, done):
        """Make the current stream wait for ``batch``'s copies and own its device memory from now on."""
        current = torch.cuda.current_stream(self.device)
        current.wait_event(done)
        for value in batch.values():
            if torch.is_tensor(value) and value.device.type == "cuda":
                value.record_stream(current)


class DevicePrefetcher:
    """An InfiniteLoader whose next ``depth`` batches are on their way to the device (module docstring). Reads
    through to the loader for what it does not change (dataset, sampler, per_epoch, batch_size)."""

    def __init__(self, loader, copier, depth=1):
        self.loader, self.copier, self.depth = loader, copier, max(1, int(depth or 1))
        self._queue = deque()  # (batch as handed out, its copy's event, the loader's state right after it)
        self._state = loader.state_dict()

    def __iter__(self):
        return self

    def __next__(self):
        if not self._queue:
            self._fill(1)
        batch, done, state = self._queue.popleft()
        self._fill(self.depth)  # the next batches' copies run during this batch's step
        self.copier.hand_over(batch, done)
        self._state = state
        return batch

    def _fill(self, size):
        while len(self._queue) < size:
            data = next(self.loader)
            self._queue.append((*self.copier.start(data), self.loader.state_dict()))

    @property
    def epoch(self):
        return self._state["epoch"]

    @property
    def batch(self):
        return self._state["batch"]

    def state_dict(self):
        return dict(self._state)

    def load_state_dict(self, state):
        self.loader.load_state_dict(state)
        self._queue.clear()  # prefetched from the old position
        self._state = self.loader.state_dict()

    def __getattr__(self, name):
        if name.startswith("_") or name in ("loader", "copier", "depth"):
            raise AttributeError(name)
        return getattr(self.loader, name)

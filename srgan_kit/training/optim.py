"""Optimisers (OPTIMIZERS) and learning-rate schedules (SCHEDULERS) with BasicSR's option names.

Schedulers are closed-form in the iteration count (``last_epoch``): the lr at step t depends only on t
and the initial lr, never on the previous group['lr']. That keeps them exact across resume and lets the
linear warm-up overwrite group['lr'] without leaking into the schedule afterwards. (BasicSR's chained
MultiStepRestartLR would otherwise stay at (warmup_iter - 1) / warmup_iter of the initial lr after a
warm-up; without warm-up both give the same values.)
"""
import math
from bisect import bisect_right

import torch

from srgan_kit.errors import OptionError
from srgan_kit.registry import OPTIMIZERS, SCHEDULERS

# torch's own classes: their keyword arguments are the option keys (lr, betas, weight_decay, ...).
OPTIMIZERS.register("Adam")(torch.optim.Adam)
OPTIMIZERS.register("AdamW")(torch.optim.AdamW)
OPTIMIZERS.register("NAdam")(torch.optim.NAdam)
OPTIMIZERS.register("RAdam")(torch.optim.RAdam)


def build_optimizer(spec, params, where="train.optim_g"):
    """Build an optimiser from ``{'type': 'Adam', 'lr': ..., ...}`` over the trainable ``params``; on CUDA
    torch's fused kernel (one launch for all parameters) unless the options say otherwise."""
    spec = dict(spec)
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])  # YAML gives a list; torch documents a tuple
    params = [p for p in params if p.requires_grad]
    if params and params[0].is_cuda and "fused" in OPTIMIZERS.arguments(spec["type"]):
        spec.setdefault("fused", True)
    return OPTIMIZERS.build(spec, where=where, params=params)


def build_scheduler(spec, optimizer, where="train.scheduler"):
    """Build a scheduler from ``{'type': ..., ...}``; ``None`` means a constant learning rate."""
    if not spec:
        set_initial_lr(optimizer)
        return None
    return SCHEDULERS.build(spec, where=where, optimizer=optimizer)


def set_initial_lr(optimizer):
    """Record each group's starting lr as 'initial_lr' (the warm-up and the schedules scale it)."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])


def update_learning_rate(iteration, optimizers, schedulers, warmup_iter=-1):
    """Set the lr for (1-based) ``iteration``, as BasicSR's BaseModel.update_learning_rate.

    Schedulers step from iteration 2 on, so iteration k uses the schedule's value at step k - 1.
    During warm-up (k < warmup_iter) every group runs at initial_lr * k / warmup_iter.
    """
    if iteration > 1:
        for scheduler in schedulers:
            scheduler.step()
    if iteration < warmup_iter:
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * iteration / warmup_iter


class ClosedFormLR:
    """Minimal scheduler base: step() sets every group's lr to ``lr_at(last_epoch, initial_lr)``.

    state_dict() holds only ints and floats, so training states load with ``weights_only=True``.
    """

    def __init__(self, optimizer):
        set_initial_lr(optimizer)
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, step, base_lr):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(self.last_epoch, base_lr)

    def get_last_lr(self):
        return [self.lr_at(self.last_epoch, base_lr) for base_lr in self.base_lrs]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state):
        # The optimiser's own state dict restores group['lr']; here only the position matters.
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = [float(v) for v in state["base_lrs"]]


def _check_same_length(a, b, name_a, name_b, kind):
    if len(a) != len(b):
        raise OptionError(f"train.scheduler ({kind}): {name_a} {list(a)} and {name_b} {list(b)} differ in length")


@SCHEDULERS.register("MultiStepLR", aliases=("MultiStepRestartLR",))
class MultiStepRestartLR(ClosedFormLR):
    """lr = initial_lr * restart_weight * gamma ** (milestones passed since the latest restart).

    BasicSR's MultiStepLR option (its MultiStepRestartLR): at a restart iteration the lr jumps back
    to initial_lr * weight; repeated milestones multiply gamma once per repetition.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, restarts=(0,), restart_weights=(1,)):
        _check_same_length(restarts, restart_weights, "restarts", "restart_weights", "MultiStepLR")
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.restarts = [int(r) for r in restarts]
        self.restart_weights = [float(w) for w in restart_weights]
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        past = [(r, w) for r, w in zip(self.restarts, self.restart_weights) if r <= step]
        restart, weight = max(past) if past else (-1, 1.0)
        passed = bisect_right(self.milestones, step) - bisect_right(self.milestones, restart)
        return base_lr * weight * self.gamma**passed


@SCHEDULERS.register()
class CosineAnnealingRestartLR(ClosedFormLR):
    """Cosine from initial_lr * weight down to eta_min over each period, then restart (BasicSR).

    Past the last period the lr stays at eta_min (BasicSR has no value there).
    """

    def __init__(self, optimizer, periods, restart_weights=(1,), eta_min=0):
        _check_same_length(periods, restart_weights, "periods", "restart_weights", "CosineAnnealingRestartLR")
        if not periods or any(int(p) <= 0 for p in periods):
            raise OptionError(f"train.scheduler (CosineAnnealingRestartLR): periods must be positive, got {periods}")
        self.periods = [int(p) for p in periods]
        self.restart_weights = [float(w) for w in restart_weights]
        self.eta_min = float(eta_min)
        self.cumulative = [sum(self.periods[: i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        step = min(step, self.cumulative[-1])
        idx = next(i for i, end in enumerate(self.cumulative) if step <= end)  # BasicSR: right-closed
        start = self.cumulative[idx - 1] if idx else 0
        cos = 1 + math.cos(math.pi * (step - start) / self.periods[idx])
        return self.eta_min + self.restart_weights[idx] * 0.5 * (base_lr - self.eta_min) * cos


def _check_warmup(kind, total_iters, warmup_iters, eta_min_ratio):
    if int(total_iters) <= 0 or not 0 <= int(warmup_iters) < int(total_iters):
        raise OptionError(f"train.scheduler ({kind}): need total_iters > warmup_iters >= 0, got total_iters "
                          f"{total_iters} and warmup_iters {warmup_iters}")
    if not 0 <= float(eta_min_ratio) <= 1:
        raise OptionError(f"train.scheduler ({kind}): eta_min_ratio must be in [0, 1], got {eta_min_ratio}")


@SCHEDULERS.register()
class CosineAnnealingWarmupLR(ClosedFormLR):
    """Linear warm-up from 0 to initial_lr over ``warmup_iters``, then cosine down to initial_lr * eta_min_ratio
    at ``total_iters`` (traiNNer-redux's keys), constant after."""

    def __init__(self, optimizer, total_iters, warmup_iters=0, eta_min_ratio=0.1):
        _check_warmup("CosineAnnealingWarmupLR", total_iters, warmup_iters, eta_min_ratio)
        self.total_iters, self.warmup_iters = int(total_iters), int(warmup_iters)
        self.eta_min_ratio = float(eta_min_ratio)
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        if step < self.warmup_iters:
            return base_lr * step / self.warmup_iters
        progress = min(1.0, (step - self.warmup_iters) / (self.total_iters - self.warmup_iters))
        return base_lr * (self.eta_min_ratio + (1 - self.eta_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@SCHEDULERS.register()
class WarmupStableDecayLR(ClosedFormLR):
    """Warmup-stable-decay: linear warm-up over ``warmup_iters``, initial_lr until the last ``decay_ratio`` of
    ``total_iters``, then linear decay to initial_lr * eta_min_ratio at ``total_iters`` (constant after). The
    stable phase's weights can be branched off and decayed at any length."""

    def __init__(self, optimizer, total_iters, warmup_iters=0, decay_ratio=0.2, eta_min_ratio=0.0):
        _check_warmup("WarmupStableDecayLR", total_iters, warmup_iters, eta_min_ratio)
        if not 0 < float(decay_ratio) <= 1:
            raise OptionError(f"train.scheduler (WarmupStableDecayLR): decay_ratio must be in (0, 1], got "
                              f"{decay_ratio}")
        self.total_iters, self.warmup_iters = int(total_iters), int(warmup_iters)
        self.decay_start = max(self.warmup_iters, round(self.total_iters * (1 - float(decay_ratio))))
        self.eta_min_ratio = float(eta_min_ratio)
        super().__init__(optimizer)

    def lr_at(self, step, base_lr):
        if step < self.warmup_iters:
            return base_lr * step / self.warmup_iters
        if step < self.decay_start:
            return base_lr
        progress = min(1.0, (step - self.decay_start) / max(1, self.total_iters - self.decay_start))
        return base_lr * (1 - (1 - self.eta_min_ratio) * progress)

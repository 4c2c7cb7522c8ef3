"""Schedule-free optimisers (Defazio et al. 2024): AdamWScheduleFree (Meta's ``schedulefree``, Apache-2.0) and
AdanScheduleFree (pytorch-optimizer's Adan made schedule-free by ``schedulefree.ScheduleFreeWrapper``), under
traiNNer-redux's names and keys.

Such an optimiser keeps two points per weight: it takes gradients at ``y`` (what the network holds while training)
and its answer is the running average ``x``, reached by ``optimizer.eval()`` and left by ``optimizer.train()``.
Everything that reads the weights as a result — validation, saved networks, the EMA — does so inside
:func:`averaged_weights`. Going x -> y with ``train()`` is exact only up to rounding, so the context puts back
the training point it saved, bit for bit, and a training state stores that point too (:func:`training_points`):
a resumed run continues from exactly where a straight one is.

No learning-rate schedule goes with them (the option loader refuses ``train.scheduler``): the averaging is
the schedule; ``warmup_steps`` ramps the learning rate up.
"""
import contextlib
from collections import defaultdict

import torch

from srgan_kit.registry import OPTIMIZERS
from srgan_kit.training.library_optimizers import LibraryOptimizer


class ScheduleFreeOptimizer(LibraryOptimizer):
    """Base of the schedule-free names: the option loader recognises them by it."""


@OPTIMIZERS.register()
class AdamWScheduleFree(ScheduleFreeOptimizer):
    """Meta's schedule-free AdamW (``schedulefree.AdamWScheduleFree``): its keyword arguments are the option keys."""

    source = "schedulefree:AdamWScheduleFree"


def _wrapper_class():
    from schedulefree import ScheduleFreeWrapper

    class Wrapper(ScheduleFreeWrapper):
        """Meta's ScheduleFreeWrapper with two changes: its averaging point ``z`` lives apart from the base
        optimiser's state (Adan, like most optimisers, initialises a parameter's state when it finds it empty), and
        AdamWScheduleFree's linear warm-up: step k (from 1) runs at lr * min(1, k / warmup_steps), which also sets
        the weight of that step in the average."""

        def __init__(self, base, warmup_steps=0, **options):
            super().__init__(base, **options)
            self.warmup_steps = int(warmup_steps)
            self._points = defaultdict(dict)

        @property
        def state(self):
            return self._points

        def _params(self):
            return [p for group in self.param_groups for p in group["params"]]

        def state_dict(self):
            points = {i: self._points[p]["z"] for i, p in enumerate(self._params()) if "z" in self._points[p]}
            return {"base": self.base.state_dict(), "z": points}

        def load_state_dict(self, state_dict):
            self.base.load_state_dict(state_dict["base"])
            self._points = defaultdict(dict)
            for i, p in enumerate(self._params()):
                if i in state_dict["z"]:
                    self._points[p]["z"] = state_dict["z"][i].to(p.device, p.dtype)

        def step(self, closure=None):
            if not self.warmup_steps:
                return super().step(closure)
            given = [group["lr"] for group in self.param_groups]
            for group in self.param_groups:
                group["lr"] *= min(1.0, (group.get("k", 0) + 1) / self.warmup_steps)
            try:
                return super().step(closure)
            finally:
                for group, lr in zip(self.param_groups, given):
                    group["lr"] = lr

    return Wrapper


def adan_schedule_free(params, lr=1e-3, betas=(0.98, 0.92, 0.99), eps=1e-8, weight_decay=0.01, max_grad_norm=0.0,
                       warmup_steps=0, r=0.0, weight_lr_power=2.0):
    """pytorch-optimizer's Adan inside Meta's ScheduleFreeWrapper: the first beta is also the interpolation
    momentum between the training and the averaged point, as in neosr's / traiNNer-redux's Adan schedule-free;
    weight decay is applied at the training point (the wrapper's recommended place)."""
    from pytorch_optimizer import Adan

    base = Adan(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=0.0, max_grad_norm=max_grad_norm)
    return _wrapper_class()(base, warmup_steps=warmup_steps, momentum=betas[0], weight_decay_at_y=weight_decay,
                                   r=r, weight_lr_power=weight_lr_power)


@OPTIMIZERS.register()
class AdanScheduleFree(ScheduleFreeOptimizer):
    """Adan, schedule-free (see :func:`adan_schedule_free`): its keyword arguments are the option keys."""

    source = "srgan_kit.training.schedule_free:adan_schedule_free"


def is_schedule_free(optimizer):
    """Whether ``optimizer`` has schedule-free's two points (its ``eval()`` / ``train()``)."""
    return callable(getattr(optimizer, "eval", None)) and callable(getattr(optimizer, "train", None))


def _params(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def _to_training_point(optimizer, points=None):
    """train(), then (given the points saved before eval()) exactly those weights instead of train()'s rounding."""
    optimizer.train()
    if points is not None:
        with torch.no_grad():
            for p, y in zip(_params(optimizer), points):
                p.copy_(y)


@contextlib.contextmanager
def averaged_weights(optimizers):
    """Inside, every schedule-free optimiser of ``optimizers`` ({key: optimiser}) has its networks at the
    averaged point; afterwards they are back at their training point, bit for bit. Yields {key: [tensors]}, the
    training points (what :func:`training_points` saves)."""
    free = {key: o for key, o in optimizers.items() if is_schedule_free(o)}
    points = {key: [p.detach().clone() for p in _params(o)] for key, o in free.items()}
    for o in free.values():
        o.eval()
    try:
        yield points
    finally:
        for key, o in free.items():
            _to_training_point(o, points[key])


def training_points(optimizers, points=None):
    """{key: [cpu tensors]} of the schedule-free optimisers' training points, for a training state; ``points``:
    what :func:`averaged_weights` yielded, when called inside it."""
    free = {key: o for key, o in optimizers.items() if is_schedule_free(o)}
    if points is None:
        points = {key: [p.detach() for p in _params(o)] for key, o in free.items()}
    return {key: [t.cpu().clone() for t in points[key]] for key in free}


def resume_training_points(optimizers, saved):
    """After networks (the averaged weights) and optimiser states are loaded: every schedule-free optimiser goes
    to its saved training point. Without saved points (an older state): ``train()`` from the average."""
    for key, o in optimizers.items():
        if is_schedule_free(o):
            points = (saved or {}).get(key)
            if points is not None:
                points = [t.to(p.device, p.dtype) for t, p in zip(points, _params(o))]
            _to_training_point(o, points)


def enter_training(optimizers):
    """Before an update: every schedule-free optimiser at its training point (a no-op when it already is)."""
    for o in optimizers.values():
        if is_schedule_free(o):
            o.train()

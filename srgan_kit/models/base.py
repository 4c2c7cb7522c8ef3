"""What every model type's training step shares.

A step owns the networks, losses, optimisers, schedulers and EMA of one kind of model and performs
one update per iteration. The trainer only sees this interface:

    step = model_type.step(opt, runtime)
    step.load_pretrained()               # fresh runs only
    losses = step.run(batch, iteration)  # {'l_pix': float, ...}; batch: one, or a list of micro-batches
    step.skipped                         # updates skipped this iteration (a non-finite loss or gradient)
    step.grad_norms                      # {'g': float, 'd': float}: the last updates' gradient norms
    step.optimizers, step.schedulers     # {'g': ..., 'd': ...}: the trainer drives lr (schedule + warm-up)
    step.eval_network()                  # the network validation uses (EMA when on)
    with step.averaged_weights(): ...    # networks at a schedule-free optimiser's average (saving, validation)
    step.networks_to_save()              # {'net_g': {'params': net, 'params_ema': ema}, ...}
    step.state_dict() / load_state_dict()

GeneratorStep holds G, its EMA, its loss (srgan_kit.losses.objective), optimisers with their schedulers and
grad scalers, pretrained loading, saving and resume; on its own it is BasicSR's SRModel (model_type sr,
models/sr_options.py).
Updates are two-phase: ``backward`` accumulates gradients (over micro-batches) and measures them; ``apply``
reads every number back in one device sync, then steps what is finite and skips the rest.
"""
import contextlib
import math
from dataclasses import dataclass

import torch

from srgan_kit.archs.loading import load_network
from srgan_kit.errors import OptionError
from srgan_kit.losses.objective import GeneratorView, build_objective, pair_targets
from srgan_kit.registry import ARCHS
from srgan_kit.training.batch_augment import BatchAugment
from srgan_kit.training.ema import EMA
from srgan_kit.training.optim import build_optimizer, build_scheduler
from srgan_kit.training import schedule_free


def build_network(spec, runtime, where):
    """A trained network (G or D): built, on the device in the memory format, compiled when asked."""
    return runtime.trained(runtime.prepare(ARCHS.build(spec, where=where)))


def losses_to_floats(losses):
    """{name: scalar tensor} -> {name: float} with one device sync instead of one per loss."""
    if not losses:
        return {}
    values = torch.stack([v.detach().float().reshape(()) for v in losses.values()]).tolist()
    return dict(zip(losses, values))


@dataclass
class Update:
    """A backpropagated update of optimiser ``key`` waiting for GeneratorStep.apply."""

    key: str
    losses: dict
    extra: dict
    total: torch.Tensor
    norm: torch.Tensor


class GeneratorStep:
    """The generator, its loss, its EMA, optimiser 'g' and everything a step saves and resumes."""

    has_discriminator = False

    def __init__(self, opt, runtime):
        self.opt, self.runtime = opt, runtime
        train = opt["train"]
        self.net_g = build_network(opt["network_g"], runtime, "network_g")
        decay = train["ema_decay"]
        self.objective = build_objective(train, runtime.prepare, self.has_discriminator, has_ema=decay > 0)
        self.ema = EMA(runtime.bare(self.net_g), decay) if decay > 0 else None
        self.batch_augment = BatchAugment.from_options(opt, runtime.is_main)  # train.use_moa; None when off
        self.grad_clip = train["grad_clip"]
        self.optimizers, self.schedulers, self.scalers, self.trained = {}, {}, {}, {}
        self.skipped = []  # this iteration's skipped updates: [(optimiser key, loss term that was not finite)]
        self.grad_norms = {}  # per optimiser: the gradient norm of its last update (before clipping)
        self._accumulated = {}  # per optimiser: the losses of the micro-batches so far
        self._training_points = None  # inside averaged_weights: the schedule-free optimisers' training points
        self.add_optimizer("g", self.net_g, train["optim_g"], train.get("scheduler"))

    def add_optimizer(self, key, net, optim_spec, scheduler_spec, scheduler_where="train.scheduler"):
        """Optimiser ``key`` over ``net``'s trainable parameters, its scheduler (if any) and grad scaler."""
        self.trained[key] = [p for p in net.parameters() if p.requires_grad]
        self.optimizers[key] = build_optimizer(optim_spec, self.trained[key], f"train.optim_{key}")
        sched = build_scheduler(scheduler_spec, self.optimizers[key], scheduler_where)
        if sched is not None:
            self.schedulers[key] = sched
        self.scalers[key] = self.runtime.grad_scaler()
        schedule_free.enter_training({key: self.optimizers[key]})

    @contextlib.contextmanager
    def averaged_weights(self):
        """Networks trained by a schedule-free optimiser hold its averaged weights inside (what validation,
        saving and the EMA read), and their exact training point again afterwards; others are untouched."""
        if self._training_points is not None:  # nested: already there
            yield
            return
        with schedule_free.averaged_weights(self.optimizers) as points:
            self._training_points = points
            try:
                yield
            finally:
                self._training_points = None

    def backward(self, key, losses, extra=None, parts=1, last=True, keep_graph=False):
        """Backpropagate the sum of ``losses`` ({name: tensor}) into optimiser ``key``'s parameters only,
        whatever else in the graph is trainable. With ``parts`` micro-batches per iteration
        (train.accumulate_grad_batches) each counts 1/parts and the gradients add up; after the ``last`` one the
        gradient norm is measured (and clipped to train.grad_clip) and an :class:`Update` that :meth:`apply`
        performs is returned (None before). ``extra``: more tensors to report (no gradient), averaged over the
        parts like the losses. ``keep_graph``: the graph stays for a later backward through part of it."""
        scaler, optimizer = self.scalers[key], self.optimizers[key]
        scaler.scale(sum(losses.values()) / parts).backward(inputs=self.trained[key], retain_graph=keep_graph)
        sums = self._accumulated.setdefault(key, {})
        for name, value in {**losses, **(extra or {})}.items():
            sums[name] = sums.get(name, 0) + value.detach().float() / parts
        if not last:
            return None
        del self._accumulated[key]
        scaler.unscale_(optimizer)  # clipping and the check see real gradients (fp16)
        if self.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.trained[key], self.grad_clip)
        else:
            grads = [p.grad for p in self.trained[key] if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        reported = {name: sums[name] for name in losses}
        return Update(key, reported, {name: sums[name] for name in extra or {}}, sum(reported.values()), norm)

    def syncing(self, net, last):
        """DistributedDataParallel's no_sync for the micro-batches before the last: their gradients add up
        locally and are averaged across processes once."""
        return contextlib.nullcontext() if last or not hasattr(net, "no_sync") else net.no_sync()

    def apply(self, *updates):
        """Step every update whose loss and gradient are finite; skip (and record in ``self.skipped``) the
        others. The numbers come back in one device sync for all of them. Returns {name: float} to log."""
        tensors = {}
        for u in updates:
            tensors.update({**u.losses, **u.extra, f" total {u.key}": u.total, f" norm {u.key}": u.norm})
        values = losses_to_floats(tensors)
        held = self.held_updates(values)
        for u in updates:
            scaler, optimizer = self.scalers[u.key], self.optimizers[u.key]
            total, norm = values.pop(f" total {u.key}"), values.pop(f" norm {u.key}")
            self.grad_norms[u.key] = norm
            if u.key in held:
                optimizer.zero_grad(set_to_none=True)
                scaler.update()
                continue
            # An fp16 scaler skips overflowing steps by itself (that is not divergence): only the loss counts.
            if math.isfinite(total) and (math.isfinite(norm) or scaler.is_enabled()):
                scaler.step(optimizer)
                self.after_update(u.key)
            else:
                optimizer.zero_grad(set_to_none=True)
                self.skipped.append((u.key, next((f"{k} is {values[k]}" for k in u.losses
                                                  if not math.isfinite(values[k])), "the gradient is not finite")))
            scaler.update()
        return values

    def ema_forward(self, lq):
        """What a view calls for the EMA generator's output on ``lq`` (terms such as LDL compare with it)."""
        def forward():
            with torch.no_grad(), self.runtime.autocast():
                return self.ema.module(lq)
        return forward if self.ema is not None else None

    def held_updates(self, values):
        """Keys of the optimisers whose finite update this iteration is deliberately not applied, decided from its
        numbers ({name: float}); none here."""
        return set()

    def training_pair(self, part):
        """A loaded batch as the networks see it ({'lq', 'gt', ...} on the device); model types that make
        their pairs on the device (models/realesrnet.py) do it here."""
        return self.runtime.to_device(part)

    def training_batch(self, loaded, iteration=None):
        """The pair the networks train on, G and D alike: :meth:`training_pair`'s, then with train.use_moa each
        sample's batch augmentation (srgan_kit.training.batch_augment), drawn from the sample's own seed."""
        pair = self.training_pair(loaded)
        return pair if self.batch_augment is None else self.batch_augment(pair, loaded["noise_seed"], iteration)

    def noise_seeds(self, part):
        """The loaded batch's per-sample seeds of noise drawn in the step (WGAN-GP's interpolation)."""
        return part.get("noise_seed")

    def after_update(self, key):
        """What follows a performed update: G's EMA follows G."""
        if key == "g" and self.ema is not None:
            with self.averaged_weights():
                self.ema.update(self.runtime.bare(self.net_g))

    def load_network(self, net, which):
        """path.pretrain_network_<which> (param_key_<which>, strict_load_<which>) into ``net``, if set."""
        path = self.opt.get("path", {})
        if not path.get(f"pretrain_network_{which}"):
            return False
        load_network(self.runtime.bare(net), path[f"pretrain_network_{which}"],
                     param_key=path.get(f"param_key_{which}"), strict=path.get(f"strict_load_{which}", True))
        return True

    def load_pretrained(self):
        """path.pretrain_network_g into net_g; the EMA starts from it."""
        if self.load_network(self.net_g, "g") and self.ema is not None:
            self.ema.reset(self.runtime.bare(self.net_g))

    def eval_network(self):
        return self.ema.module if self.ema is not None else self.runtime.bare(self.net_g)

    def networks_to_save(self):
        keys = {"params": self.net_g}
        if self.ema is not None:
            keys["params_ema"] = self.ema.module
        return {"net_g": keys}

    def state_dict(self):
        return {
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scalers": {k: s.state_dict() for k, s in self.scalers.items() if s.is_enabled()},
            "training_points": schedule_free.training_points(self.optimizers, self._training_points),
        }

    def load_state_dict(self, state):
        for key, optimizer in self.optimizers.items():
            if key not in state["optimizers"]:
                raise OptionError(f"train.optim_{key}: the training state has no optimiser {key!r} to resume")
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in self.schedulers.items():
            if key not in state["schedulers"]:
                raise OptionError(f"train.scheduler: the training state has no scheduler {key!r} to resume")
            scheduler.load_state_dict(state["schedulers"][key])
        if self.ema is not None:
            if state.get("ema") is None:
                raise OptionError("train.ema_decay: EMA is on but the training state was saved without EMA")
            self.ema.load_state_dict(state["ema"])
        saved_scalers = state.get("scalers") or {}
        for key, scaler in self.scalers.items():
            if scaler.is_enabled() and key in saved_scalers:
                scaler.load_state_dict(saved_scalers[key])
        schedule_free.resume_training_points(self.optimizers, state.get("training_points"))


    def run(self, batch, iteration):
        """One generator update (BasicSR's SRModel): every term of the objective, summed; ``batch`` may be a
        list of micro-batches whose gradients add up (train.accumulate_grad_batches)."""
        micro = batch if isinstance(batch, list) else [batch]
        self.net_g.train()
        self.skipped = []
        self.optimizers["g"].zero_grad(set_to_none=True)
        for i, part in enumerate(micro):
            part, last = self.training_batch(part, iteration), i == len(micro) - 1
            with self.syncing(self.net_g, last):
                with self.runtime.autocast():
                    output = self.net_g(part["lq"])
                view = GeneratorView(output, part["gt"], self.runtime.autocast, targets=pair_targets(part),
                                     ema=self.ema_forward(part["lq"]))
                losses = {f"l_{name}": value for name, value in self.objective(view).items()}
                update = self.backward("g", losses, parts=len(micro), last=last)
        return self.apply(update)

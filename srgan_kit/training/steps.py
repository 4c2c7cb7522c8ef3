"""Training steps, chosen by ``model_type`` through STEPS.

A step owns the networks, losses, optimisers, schedulers and EMA of one kind of model and performs
one update per iteration. The trainer only sees this interface:

    step = STEPS.get(opt['model_type'])(opt, runtime)
    step.load_pretrained()               # fresh runs only
    losses = step.run(batch, iteration)  # {'l_pix': float, ...}
    step.optimizers, step.schedulers     # {'g': ...}: the trainer drives lr (schedule + warm-up)
    step.eval_network()                  # the network validation uses (EMA when on)
    step.networks_to_save()              # {'net_g': {'params': net, 'params_ema': ema}, ...}
    step.state_dict() / load_state_dict()

The GAN issue registers 'gan' beside 'sr' with a discriminator, its optimiser and scheduler.
"""

from srgan_kit.archs.weights import load_weights
from srgan_kit.errors import OptionError
from srgan_kit.registry import ARCHS, LOSSES, Registry
from srgan_kit.training.ema import EMA
from srgan_kit.training.optim import build_optimizer, build_scheduler

STEPS = Registry("model_type")


def build_network(spec, runtime, where):
    return runtime.prepare(ARCHS.build(spec, where=where))


@STEPS.register("sr", aliases=("SRModel",))
class PSNRStep:
    """Generator-only training with a pixel loss (BasicSR's SRModel)."""

    def __init__(self, opt, runtime):
        self.opt, self.runtime = opt, runtime
        train = opt["train"]
        self.net_g = build_network(opt["network_g"], runtime, "network_g")
        decay = float(train.get("ema_decay") or 0)
        self.ema = EMA(runtime.bare(self.net_g), decay) if decay > 0 else None
        if not train.get("pixel_opt"):
            raise OptionError("train.pixel_opt: PSNR training (model_type sr) needs a pixel loss")
        self.cri_pix = LOSSES.build(train["pixel_opt"], where="train.pixel_opt").to(runtime.device)
        self.optimizers = {"g": build_optimizer(train["optim_g"], self.net_g.parameters(), "train.optim_g")}
        sched = build_scheduler(train.get("scheduler"), self.optimizers["g"], "train.scheduler")
        self.schedulers = {"g": sched} if sched is not None else {}
        self.scaler = runtime.grad_scaler()

    def load_pretrained(self):
        """path.pretrain_network_g (param_key_g, strict_load_g) into net_g; the EMA starts from it."""
        path = self.opt.get("path", {})
        if not path.get("pretrain_network_g"):
            return
        load_weights(self.runtime.bare(self.net_g), path["pretrain_network_g"],
                     param_key=path.get("param_key_g"), strict=path.get("strict_load_g", True))
        if self.ema is not None:
            self.ema.reset(self.runtime.bare(self.net_g))

    def run(self, batch, iteration):
        batch = self.runtime.to_device(batch)
        self.net_g.train()
        optimizer = self.optimizers["g"]
        optimizer.zero_grad(set_to_none=True)
        with self.runtime.autocast():
            output = self.net_g(batch["lq"])
        l_pix = self.cri_pix(output.float(), batch["gt"])  # the loss in fp32 even under autocast
        self.scaler.scale(l_pix).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.runtime.bare(self.net_g))
        return {"l_pix": l_pix.item()}

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
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
        }

    def load_state_dict(self, state):
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, scheduler in self.schedulers.items():
            if key not in state["schedulers"]:
                raise OptionError(f"train.scheduler: the training state has no scheduler {key!r} to resume")
            scheduler.load_state_dict(state["schedulers"][key])
        if self.ema is not None:
            if state.get("ema") is None:
                raise OptionError("train.ema_decay: EMA is on but the training state was saved without EMA")
            self.ema.load_state_dict(state["ema"])
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

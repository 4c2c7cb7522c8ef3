"""Exponential moving average of the generator (BasicSR's net_g_ema).

After every optimiser step: ema = decay * ema + (1 - decay) * param, parameter by parameter (matched
by name); buffers (if any) are copied. The EMA copy is what validation uses and what is saved as
'params_ema'.
"""
import copy

import torch


class EMA:
    def __init__(self, net, decay):
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net, decay=None):
        decay = self.decay if decay is None else decay
        params = dict(net.named_parameters())
        for name, ema_p in self.module.named_parameters():
            ema_p.mul_(decay).add_(params[name].detach().to(ema_p.dtype), alpha=1 - decay)
        buffers = dict(net.named_buffers())
        for name, ema_b in self.module.named_buffers():
            ema_b.copy_(buffers[name])

    def reset(self, net):
        """Make the average equal to ``net`` (after loading pretrained weights)."""
        self.update(net, decay=0.0)

    def state_dict(self):
        return {"decay": self.decay, "params": {k: v.detach().cpu() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state):
        # The averaged weights come from the state; the decay stays the one in the options.
        self.module.load_state_dict(state["params"], strict=True)

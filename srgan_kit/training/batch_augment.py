"""Batch augmentations: traiNNer-redux's "mixture of augmentations" (``train.use_moa``).

Each sample of a training batch gets one augmentation of ``train.moa_augs``, drawn with ``train.moa_probs``,
applied to the pair the networks train on (after a model type made it on the device: Real-ESRGAN's
degradations come first). G and D see the same augmented pair; validation never augments.

    none       the pair as it is
    mixup      lq and gt blended with a partner's: lam * own + (1 - lam) * partner's, lam ~ U(0.4, 0.6)
    cutmix     the partner's lq and gt in a box at the same place (lam ~ U(0, 0.9), box sides sqrt(1 - lam))
    resizemix  the partner's whole lq and gt, resized (bicubic, antialiased, clamped to [0, 1]), in a box
               (sides ~ U(0.5, 0.9))
    cutblur    a box of the lq replaced by the gt's pixels there, downscaled to the lq's grid (bicubic,
               antialiased); the gt stays (Yoo et al. 2020, CutBlur, as traiNNer-redux applies it for scale > 1:
               the network learns where the input already is sharp)

Boxes are drawn on the lq grid as traiNNer-redux draws them (sides a fraction of the image's, rounded down,
centre uniform, clipped to the image) and scaled to the gt's, so the lq and gt boxes cover the same content.
Other targets of the pair (Real-ESRGAN's sharpened '<role>_gt') get what the gt gets, with the partner's own.

Randomness is per sample: sample i draws its augmentation, partner and box from its own seed (the batch's
``noise_seed`` mixed with :data:`STREAM`, so nothing else drawn from that seed changes). A partner is another
sample of the *global* batch: under DDP every process gathers the others' parts and puts them in the order of
one process with the whole batch (the sampler gives rank r its k-th sample at position k * world_size + r), so
N processes of batch B train as one process of batch N * B, and a resumed run as an uninterrupted one.
"""
import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from srgan_kit import distributed
from srgan_kit.data.imageio import save_image

STREAM = 0x2A5B_0F3C_91D7_4E61  # mixed into each sample's seed: the augmentations' own random stream


# ----------------------------------------------------------------------------------------- one sample
# Each augmentation: draw(rng, lq height, lq width) -> params; mix(lq, gt, partner_lq, partner_gt, params) ->
# (lq, gt) on one sample's C x H x W tensors (the gt's size a multiple of the lq's).


def _box(rng, height, width, ratio):
    """traiNNer-redux's box on the lq grid: sides ``ratio`` of the image's (rounded down), a uniform centre,
    half sides clipped to the image; (top, bottom, left, right), possibly empty."""
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = rng.randrange(height), rng.randrange(width)
    return (max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height), max(cx - cut_w // 2, 0),
            min(cx + cut_w // 2, width))


def _scale(lq, gt):
    return gt.shape[-1] // lq.shape[-1]


def _region(x, box, scale=1):
    top, bottom, left, right = (v * scale for v in box)
    return x[:, top:bottom, left:right]


def _pasted(x, box, patch, scale=1):
    """``x`` with ``patch`` in ``box`` (lq coordinates times ``scale``)."""
    top, bottom, left, right = (v * scale for v in box)
    out = x.clone()
    out[:, top:bottom, left:right] = patch
    return out


def _resized(x, size):
    """``x`` (C x H x W) resized to ``size`` by antialiased bicubic (itself at its own size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=tuple(size), mode="bicubic", antialias=True, align_corners=False)[0]


def _empty(box):
    return box[1] <= box[0] or box[3] <= box[2]


def _size(box, scale=1):
    return (box[1] - box[0]) * scale, (box[3] - box[2]) * scale


def none(lq, gt, partner_lq, partner_gt, params):
    return lq, gt


def mixup(lq, gt, partner_lq, partner_gt, params):
    lam = params["lam"]
    return lam * lq + (1 - lam) * partner_lq, lam * gt + (1 - lam) * partner_gt


def cutmix(lq, gt, partner_lq, partner_gt, params):
    box, s = params["box"], _scale(lq, gt)
    return (_pasted(lq, box, _region(partner_lq, box)),
            _pasted(gt, box, _region(partner_gt, box, s), s))


def resizemix(lq, gt, partner_lq, partner_gt, params):
    box, s = params["box"], _scale(lq, gt)
    if _empty(box):
        return lq, gt
    return (_pasted(lq, box, _resized(partner_lq, _size(box)).clamp(0, 1)),
            _pasted(gt, box, _resized(partner_gt, _size(box, s)).clamp(0, 1), s))


def cutblur(lq, gt, partner_lq, partner_gt, params):
    box, s = params["box"], _scale(lq, gt)
    if _empty(box):
        return lq, gt
    return _pasted(lq, box, _resized(_region(gt, box, s), _size(box))), gt


@dataclass(frozen=True)
class Augmentation:
    mix: object  # (lq, gt, partner_lq, partner_gt, params) -> (lq, gt)
    draw: object  # (rng, lq height, lq width) -> params
    partner: bool  # whether it mixes in another sample


AUGMENTATIONS = {
    "none": Augmentation(none, lambda rng, h, w: {}, partner=False),
    "mixup": Augmentation(mixup, lambda rng, h, w: {"lam": rng.uniform(0.4, 0.6)}, partner=True),
    "cutmix": Augmentation(cutmix, lambda rng, h, w: {"box": _box(rng, h, w, math.sqrt(1 - rng.uniform(0, 0.9)))},
                           partner=True),
    "resizemix": Augmentation(resizemix, lambda rng, h, w: {"box": _box(rng, h, w, rng.uniform(0.5, 0.9))},
                              partner=True),
    "cutblur": Augmentation(cutblur, lambda rng, h, w: {"box": _box(rng, h, w, rng.uniform(0.2, 0.7))},
                            partner=False),
}


def draw(seed, position, count, augs, probs, lq_size):
    """(name, partner position or None, params) of the sample at ``position`` of a global batch of ``count``,
    from the sample's ``seed`` alone. The partner is never the sample itself when there is another."""
    rng = random.Random(int(seed) ^ STREAM)
    name = rng.choices(augs, weights=probs)[0]
    aug, partner = AUGMENTATIONS[name], None
    if aug.partner:
        partner = rng.randrange(count - 1) if count > 1 else position
        if count > 1 and partner >= position:
            partner += 1
    return name, partner, aug.draw(rng, *lq_size)


# ------------------------------------------------------------------------------------------- a batch


def _global_order(parts):
    """Every process's part of a batch ([rank 0's, rank 1's, ...]) in one process's order: position
    k * world_size + rank holds rank's k-th sample."""
    return parts[0] if len(parts) == 1 else torch.stack(parts, dim=1).flatten(0, 1)


class BatchAugment:
    """``augment(pair, seeds, iteration)``: a training pair with each sample augmented (see the module)."""

    def __init__(self, augs, probs, debug_dir=None, debug_limit=100):
        self.augs, self.probs = list(augs), [float(p) for p in probs]
        self.debug_dir = Path(debug_dir) if debug_dir is not None else None
        self.debug_limit = int(debug_limit)
        self._parts = {}  # {iteration: micro-batches seen}: the debug files' names

    @classmethod
    def from_options(cls, opt, is_main=True):
        """From validated options; None without train.use_moa. Only the main process writes moa_debug."""
        train = opt["train"]
        if not train.get("use_moa"):
            return None
        debug = Path(opt["path"]["experiments_root"]) / "moa_debug" if train["moa_debug"] and is_main else None
        return cls(train["moa_augs"], train["moa_probs"], debug, train["moa_debug_limit"])

    def describe(self):
        """One log line: the augmentations and their probabilities, and where debug pictures go."""
        text = "Batch augmentations (train.use_moa), one per sample: " + ", ".join(
            f"{a} {p:g}" for a, p in zip(self.augs, self.probs))
        if self.debug_dir is not None:
            which = "every iteration's" if self.debug_limit == 0 else f"the first {self.debug_limit} iterations'"
            text += f"; {which} batches before | after are written to {self.debug_dir}"
        return text

    @torch.no_grad()
    def __call__(self, pair, seeds, iteration=None):
        """``pair`` ({'lq', 'gt', '<role>_gt', ...}: this process's part of the batch, on the device) with each
        sample augmented; ``seeds``: the samples' noise_seed. Under DDP a collective: every process calls it."""
        rank, world_size = distributed.world()
        targets = ["gt", *(k for k in pair if k.endswith("_gt"))]
        keys = ["lq", *targets]
        every = {k: _global_order(distributed.gathered_tensors(pair[k])) for k in keys}
        count = len(seeds) * world_size
        out = {k: pair[k].clone() for k in keys}
        drawn = []
        for k, seed in enumerate(seeds.tolist()):
            position = k * world_size + rank
            name, partner, params = draw(seed, position, count, self.augs, self.probs, pair["lq"].shape[-2:])
            drawn.append((position, name, partner))
            if name == "none":
                continue
            mix, other = AUGMENTATIONS[name].mix, position if partner is None else partner
            lq, partner_lq = pair["lq"][k], every["lq"][other]
            out["lq"][k], out["gt"][k] = mix(lq, pair["gt"][k], partner_lq, every["gt"][other], params)
            for key in targets[1:]:  # the other targets get what the gt got, with the partner's own
                out[key][k] = mix(lq, pair[key][k], partner_lq, every[key][other], params)[1]
        if self.debug_dir is not None and iteration is not None and (
                self.debug_limit == 0 or iteration <= self.debug_limit):
            self._write_debug(iteration, pair, out, drawn)
        return {**pair, **out}

    def _write_debug(self, iteration, before, after, drawn):
        """moa_debug/<iteration>[_<micro-batch>].png: one row per sample, lq before | lq after | gt before |
        gt after (lq enlarged by pixel repetition); augmentations.txt: what each sample got."""
        part = self._parts.get(iteration, 0)
        self._parts = {iteration: part + 1}
        stem = f"{iteration:06d}" + (f"_{part}" if part else "")
        s = _scale(before["lq"], before["gt"])

        def big(x):
            return x.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)

        rows = torch.cat([big(before["lq"]), big(after["lq"]), before["gt"], after["gt"]], dim=-1)
        sheet = torch.cat(list(rows), dim=-2).float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        save_image(self.debug_dir / f"{stem}.png", sheet)
        line = ", ".join(f"{p} {name}" + (f" with {q}" if q is not None else "") for p, name, q in drawn)
        with open(self.debug_dir / "augmentations.txt", "a", encoding="utf-8") as handle:
            handle.write(f"{stem}: {line}\n")

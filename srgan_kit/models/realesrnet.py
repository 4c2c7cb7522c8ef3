"""model_type 'realesrnet' (Real-ESRGAN's RealESRNetModel): the generator trained on synthetic real-world pairs.

The step is GeneratorStep's with one stage in front (:class:`DegradedPairs`, shared with the GAN stage in
models/realesrgan.py): each batch of HR tiles and kernels (RealESRGANDataset) becomes (lq, gt, gt_usm) on the
training device through srgan_kit.data.realworld.RealWorldPairs, under a seed taken from the batch's first sample
(so a batch is the same whatever process loads it, and on resume); every process's training-pair pool is part of
the training state. Each loss term trains on the sharpened GT when its ``*_gt_usm`` key is set.
"""
from srgan_kit import distributed
from srgan_kit.config.schema import train_gt_size
from srgan_kit.data.realworld import RealWorldPairs, stage_settings
from srgan_kit.models.base import GeneratorStep

# Which loss role trains on the sharpened GT, by option key.
USM_KEYS = {"pixel": "l1_gt_usm", "perceptual": "percep_gt_usm", "gan": "gan_gt_usm"}


def trains_on_usm(opt, role):
    """Whether the loss role trains on the sharpened GT: its ``*_gt_usm`` key, or the older Real-ESRNet files'
    single ``gt_usm`` for the generator's terms when that is given."""
    if opt.get("gt_usm") is not None and role != "gan":
        return opt["gt_usm"]
    return opt[USM_KEYS[role]]


def build_pairs(opt, queue_size, batch_size, device="cpu", with_ready_made=True):
    """The step's pair maker from validated options (the degradation preview builds the same one, unpooled and
    without the ready-made pairs)."""
    paired_prob = (opt.get("dataroot_lq_prob") or 0.0) if with_ready_made else 0.0
    return RealWorldPairs(stage_settings(opt), opt["scale"], train_gt_size(opt)[0], queue_size, batch_size, device,
                          paired_prob=paired_prob)


class DegradedPairs:
    """The stage in front of a step (mixed into GeneratorStep or GANStep): loaded HR tiles -> training pairs
    with a per-role target ('<role>_gt', see srgan_kit.losses.objective.TARGET_ROLES); its pool is saved and
    resumed per process."""

    def __init__(self, opt, runtime):
        super().__init__(opt, runtime)
        self.pairs = build_pairs(opt, opt["queue_size"], opt["datasets"]["train"]["batch_size_per_gpu"],
                                 runtime.device)
        self.usm_roles = [role for role in USM_KEYS if trains_on_usm(opt, role)]

    def training_pair(self, part):
        seed = int(part["noise_seed"][0])  # read on the CPU, before the batch moves
        made = self.pairs(self.runtime.to_device(part), seed)
        pair = {"lq": made["lq"], "gt": made["gt"], **{f"{role}_gt": made["gt_usm"] for role in self.usm_roles}}
        return self.runtime.to_device(pair)

    def noise_seeds(self, part):
        """A batch that trains on its ready-made pairs draws the D step's noise from the pairs' own seeds, as
        model_type gan does on the same pairs."""
        if "paired_noise_seed" in part and self.pairs.uses_paired(part, int(part["noise_seed"][0])):
            return part["paired_noise_seed"]
        return super().noise_seeds(part)

    def state_dict(self):
        pools = distributed.gathered(self.pairs.state_dict())  # a collective: every process saves
        return {**super().state_dict(), "degradation": pools[0], "degradation_ranks": pools}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        rank, world_size = distributed.world()
        pools = state.get("degradation_ranks") or [state.get("degradation") or {}]
        # Another number of processes: each starts from the pool of the process of its rank, if there was one.
        self.pairs.load_state_dict(pools[rank] if rank < len(pools) else {})


class RealESRNetStep(DegradedPairs, GeneratorStep):
    pass

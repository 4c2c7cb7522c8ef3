"""model_type 'realesrnet' (Real-ESRGAN's RealESRNetModel): the generator trained on synthetic real-world pairs.

The step is GeneratorStep's with one stage in front (:class:`DegradedPairs`, shared with the GAN stage in
models/realesrgan.py): each batch of HR tiles and kernels (RealESRGANDataset) becomes (lq, gt, gt_usm) on the
training device through srgan_kit.data.realworld.RealWorldPairs, under a seed taken from the batch's first sample
(so a batch is the same whatever process loads it, and on resume); every process's training-pair pool is part of
the training state. Each loss term trains on the sharpened GT when its ``*_gt_usm`` key is set.
"""
from srgan_kit import distributed
from srgan_kit.config.engine import (BOOL, INT, NUMBER, STR, Check, Field, at_least, between, each, field_from_default,
                                    list_of)
from srgan_kit.config.schema import ModelType, train_gt_size
from srgan_kit.data.realworld import (RESIZE_MODES, RESIZE_STAGES, STAGE_DEFAULTS, RealWorldPairs, check_pool_size,
                                     stage_settings)
from srgan_kit.errors import ArgumentError
from srgan_kit.models.base import GeneratorStep
from srgan_kit.models.sr import check_generator_only
from srgan_kit.registry import MODEL_TYPES

DEGRADED_DATASETS = ("RealESRGANDataset", "RealESRGANPairedDataset")
PAIRED_DATASET = "RealESRGANPairedDataset"
MIN_GT_SIZE = 26  # reflect padding by the USM's 25-pixel radius needs more pixels than that
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


def check_degraded(opt, ctx):
    """The options of the degradation stage agree with the data set (every model type that degrades)."""
    train_set = opt["datasets"].get("train")
    if not ctx.is_train or not train_set:
        return
    if train_set.get("type") not in DEGRADED_DATASETS:
        ctx.problem(("datasets", "train", "type"), f"model_type {opt['model_type']!r} degrades HR images on the "
                    f"fly: the training set must be type {' or '.join(DEGRADED_DATASETS)}, got "
                    f"{train_set.get('type')!r}")
    gt_size, where = train_gt_size(opt)
    if gt_size and gt_size < MIN_GT_SIZE:
        ctx.problem(where, f"{gt_size} is smaller than {MIN_GT_SIZE}: the GT's unsharp mask blurs with a "
                    f"51-pixel Gaussian mirrored at the borders")
    batch = train_set.get("batch_size_per_gpu")
    if opt["queue_size"] and batch:
        try:
            check_pool_size(opt["queue_size"], batch, "datasets.train.batch_size_per_gpu")
        except ArgumentError as exc:
            ctx.problem((exc.argument,), exc.message)
    paired = train_set.get("type") == PAIRED_DATASET
    if opt["dataroot_lq_prob"] and not paired:
        ctx.problem(("dataroot_lq_prob",), f"{opt['dataroot_lq_prob']} needs ready-made pairs: set datasets.train."
                    f"type: {PAIRED_DATASET} with dataroot_lq")
    if paired and train_set.get("gt_size") and opt.get("gt_size") and train_set["gt_size"] != opt["gt_size"]:
        ctx.problem(("datasets", "train", "gt_size"), f"{train_set['gt_size']} differs from the top-level "
                    f"gt_size {opt['gt_size']}: ready-made and degraded pairs must have one size to share batches")
    if paired and not opt["dataroot_lq_prob"]:
        ctx.warn(("dataroot_lq_prob",), f"0: the ready-made pairs of {PAIRED_DATASET} are never used")
    for stage in RESIZE_STAGES:
        modes, probs = opt["resize_mode_list" + stage], opt["resize_mode_prob" + stage]
        if len(modes) != len(probs):
            ctx.problem(("resize_mode_prob" + stage,), f"{len(probs)} probabilities for the {len(modes)} modes of "
                        f"resize_mode_list{stage}: give one per mode")
        elif not sum(probs) > 0:
            ctx.problem(("resize_mode_prob" + stage,), "all zero: at least one mode must have a probability > 0")


def _check(opt, ctx):
    check_generator_only(opt, ctx)
    check_degraded(opt, ctx)


FIELDS = {key: field_from_default(value, check=at_least(0), exact_length=True)
          for key, value in STAGE_DEFAULTS.items()}
RESIZE_MODE = Check(lambda modes: len(modes) > 0 and all(m in RESIZE_MODES for m in modes),
                    "not empty, each one of " + ", ".join(RESIZE_MODES),
                    {"minItems": 1, "items": {"enum": list(RESIZE_MODES)}})
FIELDS.update({key: Field(NUMBER, STAGE_DEFAULTS[key], check=between(0, 1)) for key in ("jpeg_prob", "jpeg_prob2")})
for stage in RESIZE_STAGES:
    FIELDS["resize_mode_list" + stage] = Field(list_of(STR), STAGE_DEFAULTS["resize_mode_list" + stage],
                                               check=RESIZE_MODE)
    FIELDS["resize_mode_prob" + stage] = Field(list_of(NUMBER), STAGE_DEFAULTS["resize_mode_prob" + stage],
                                               check=each(at_least(0)))
FIELDS.update({
    "gt_size": Field(INT, None, nullable=True),
    "queue_size": Field(INT, 180, check=at_least(0)),
    "l1_gt_usm": Field(BOOL, True), "percep_gt_usm": Field(BOOL, True), "gan_gt_usm": Field(BOOL, False),
    "gt_usm": Field(BOOL, None, nullable=True),  # older Real-ESRNet files: l1_gt_usm and percep_gt_usm at once
    "dataroot_lq_prob": Field(NUMBER, 0.0, check=between(0, 1)),
})

MODEL_TYPES.register("realesrnet", aliases=("RealESRNetModel",))(ModelType(
    "realesrnet", step=RealESRNetStep, fields={"": FIELDS}, check=_check))

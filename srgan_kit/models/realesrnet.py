"""model_type 'realesrnet' (Real-ESRGAN's RealESRNetModel): the generator trained on synthetic real-world pairs.

The step is GeneratorStep's with one stage in front: each batch of HR tiles and kernels (RealESRGANDataset)
becomes (lq, gt, gt_usm) on the training device through srgan_kit.data.realworld.RealWorldPairs, under a seed
taken from the batch's first sample (so a batch is the same whatever process loads it, and on resume); the
training-pair pool is part of the training state. The loss trains on the sharpened GT when l1_gt_usm is set.
"""
from srgan_kit.config.engine import BOOL, INT, NUMBER, Field, at_least, list_of
from srgan_kit.config.schema import ModelType
from srgan_kit.data.realworld import STAGE_DEFAULTS, RealWorldPairs, stage_settings
from srgan_kit.models.base import GeneratorStep
from srgan_kit.models.sr import check_generator_only
from srgan_kit.registry import MODEL_TYPES

DEGRADED_DATASET = "RealESRGANDataset"
MIN_GT_SIZE = 26  # reflect padding by the USM's 25-pixel radius needs more pixels than that


def pair_gt_size(opt):
    """The GT crop the pairs are cut to: the top-level gt_size (Real-ESRGAN's), else the training set's."""
    return opt.get("gt_size") or opt["datasets"]["train"].get("gt_size")


def build_pairs(opt, queue_size, batch_size, device="cpu"):
    """The step's pair maker from validated options (the degradation preview builds the same one, unpooled)."""
    return RealWorldPairs(stage_settings(opt), opt["scale"], pair_gt_size(opt), queue_size, batch_size, device)


class RealESRNetStep(GeneratorStep):
    def __init__(self, opt, runtime):
        super().__init__(opt, runtime)
        self.pairs = build_pairs(opt, opt["queue_size"], opt["datasets"]["train"]["batch_size_per_gpu"],
                                 runtime.device)
        self.usm_target = opt["l1_gt_usm"]

    def training_pair(self, part):
        seed = int(part["noise_seed"][0])  # read on the CPU, before the batch moves
        made = self.pairs(self.runtime.to_device(part), seed)
        return self.runtime.to_device({"lq": made["lq"], "gt": made["gt_usm" if self.usm_target else "gt"]})

    def state_dict(self):
        return {**super().state_dict(), "degradation": self.pairs.state_dict()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.pairs.load_state_dict(state.get("degradation") or {})


def _check(opt, ctx):
    check_generator_only(opt, ctx)
    train_set = opt["datasets"].get("train")
    if not ctx.is_train or not train_set:
        return
    if train_set.get("type") != DEGRADED_DATASET:
        ctx.problem(("datasets", "train", "type"), f"model_type {opt['model_type']!r} degrades HR images on the "
                    f"fly: the training set must be type {DEGRADED_DATASET}, got {train_set.get('type')!r}")
    gt_size = pair_gt_size(opt)
    if gt_size and gt_size < MIN_GT_SIZE:
        ctx.problem(("gt_size",), f"{gt_size} is smaller than {MIN_GT_SIZE}: the GT's unsharp mask blurs with a "
                    f"51-pixel Gaussian mirrored at the borders")
    batch = train_set.get("batch_size_per_gpu")
    if opt["queue_size"] and batch and opt["queue_size"] % batch:
        ctx.problem(("queue_size",), f"{opt['queue_size']} is not a multiple of datasets.train."
                    f"batch_size_per_gpu {batch} (the pool swaps whole batches)")
    if opt.get("train", {}).get("perceptual_opt") and opt["percep_gt_usm"] != opt["l1_gt_usm"]:
        ctx.problem(("percep_gt_usm",), "must equal l1_gt_usm: every loss term trains on the same target here")


FIELDS = {key: Field(list_of(NUMBER, len(value)), value) if isinstance(value, list)
          else Field(NUMBER, value, check=at_least(0)) for key, value in STAGE_DEFAULTS.items()}
FIELDS.update({
    "gt_size": Field(INT, None, nullable=True),
    "queue_size": Field(INT, 180, check=at_least(0)),
    "l1_gt_usm": Field(BOOL, True), "percep_gt_usm": Field(BOOL, True), "gan_gt_usm": Field(BOOL, False),
})

MODEL_TYPES.register("realesrnet", aliases=("RealESRNetModel",))(ModelType(
    "realesrnet", step=RealESRNetStep, fields={"": FIELDS}, check=_check))

"""model_type 'realesrnet' (Real-ESRGAN's RealESRNetModel): the degradation keys it adds (top level, as in
Real-ESRGAN), their value checks and that they agree with the data set, without torch (the step:
models/realesrnet.py)."""
from srgan_kit.config.engine import (BOOL, INT, NUMBER, STR, Check, Field, at_least, between, each, field_from_default,
                                    list_of)
from srgan_kit.config.schema import ModelType, network_channels, train_gt_size
from srgan_kit.data.degradation_keys import (KERNEL_SIZES, RESIZE_MODES, RESIZE_STAGES, STAGE_DEFAULTS,
                                            check_pool_size, degradation_problems)
from srgan_kit.errors import ArgumentError
from srgan_kit.models.sr_options import check_generator_only
from srgan_kit.registry import MODEL_TYPES

DEGRADED_DATASETS = ("RealESRGANDataset", "RealESRGANPairedDataset")
PAIRED_DATASET = "RealESRGANPairedDataset"
MIN_GT_SIZE = 26  # reflect padding by the USM's 25-pixel radius needs more pixels than that


def check_degraded(opt, ctx):
    """The values of the degradation stage's keys, and that they agree with the data set (every model type that
    degrades). The data set's own kernel keys are checked with it (its check_arguments)."""
    for key, why in degradation_problems({key: opt[key] for key in STAGE_DEFAULTS}):
        ctx.problem((key,), why)
    train_set = opt["datasets"].get("train")
    if not ctx.is_train or not train_set:
        return
    if train_set.get("type") not in DEGRADED_DATASETS:
        ctx.problem(("datasets", "train", "type"), f"model_type {opt['model_type']!r} degrades HR images on the "
                    f"fly: the training set must be type {' or '.join(DEGRADED_DATASETS)}, got "
                    f"{train_set.get('type')!r}")
    if network_channels(opt["network_g"]) != (3, 3):
        ctx.problem(("network_g", "num_in_ch"), f"model_type {opt['model_type']!r} degrades colour images (JPEG, "
                    "colour noise): its networks take and give 3 channels; grey networks train with model_type sr "
                    "or gan")
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
    for key in ("blur_kernel_size", "blur_kernel_size2"):
        if train_set.get(key, KERNEL_SIZES[-1]) != KERNEL_SIZES[-1]:
            ctx.warn(("datasets", "train", key), f"{train_set[key]} is not used: as in Real-ESRGAN, each kernel's "
                     f"size is drawn from {KERNEL_SIZES[0]}..{KERNEL_SIZES[-1]} and padded to {KERNEL_SIZES[-1]}")


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
    "realesrnet", step_class="srgan_kit.models.realesrnet:RealESRNetStep", fields={"": FIELDS}, check=_check))

"""srgan_kit's option schema (BasicSR's structure and key names) in the nodes of srgan_kit.config.engine.

``base_schema`` is the tree every model type shares; a model type (srgan_kit.models.*) adds its own keys
as a ``ModelType`` fragment and registers it in srgan_kit.registry.MODEL_TYPES. A key that only another
model type uses is read with one warning ("used by model_type 'gan' only"), so a file can switch types.
"""
import re
from dataclasses import dataclass, field

from srgan_kit import registry as reg
from srgan_kit.config.engine import (BOOL, FLOAT, INT, MAPPING, NON_EMPTY, NUMBER, REQUIRED, STR, Check, Field,
                                     Kind, ListOf, MapOf, Mismatch, Section, Typed, at_least, count_or, each,
                                     greater, half_open, list_of, one_of, registry_groups)
from srgan_kit.config import json_schema as js

SCALES = (1, 2, 3, 4, 8)
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # srgan_kit.device.resolve_precision
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")


def _compile_mode(value):
    if value is False or value in COMPILE_MODES:
        return value
    raise Mismatch


COMPILE = Kind("false, 'default' or 'max-autotune-no-cudagraphs'", _compile_mode, {"enum": [False, *COMPILE_MODES]})
# Batch augmentations (srgan_kit.training.batch_augment) and traiNNer-redux's probabilities for them. Names are
# checked against MOA_AUGS with the probabilities (config/options.py), so a misspelt one gets the nearest.
MOA_AUGS = ("none", "mixup", "cutmix", "resizemix", "cutblur")
MOA_PROBS = (0.4, 0.084, 0.084, 0.084, 0.348)
MOA_NAME = Kind("a string", STR.coerce, {"type": "string", "enum": list(MOA_AUGS)})


def _folders(value):
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise Mismatch


# A training set's GT may come from several folders (e.g. [T91, BSD200]), as in traiNNer-redux.
_FOLDER = {"type": "string", "minLength": 1}
FOLDERS = Kind("a folder or a non-empty list of folders", _folders,
               {"anyOf": [_FOLDER, {"type": "array", "items": _FOLDER, "minItems": 1}]})
# Health conditions (srgan_kit.training.health) that train.early_stop may name.
EARLY_STOP_KEYS = ("d_wins", "d_collapsed", "d_at_chance", "adversarial_dominates", "psnr_drop", "colour_shift")
RUN_NAME = Check(lambda v: bool(re.fullmatch(r"[^/\\]+", v)) and v not in (".", ".."), "usable as a folder name",
                 {"pattern": r"^[^/\\]+$", "not": {"enum": [".", ".."]}})
TOP_UNUSED = {
    "dist_params": "BasicSR's distributed settings; srgan_kit reads them from torchrun's environment",
    "find_unused_parameters": "BasicSR's DistributedDataParallel flag, not used by srgan_kit",
}
DATASET_UNUSED = {
    "meta_info_file": "BasicSR's file list; srgan_kit pairs every image in the folders",
    "dataset_enlarge_ratio": "BasicSR's epoch-length multiplier; srgan_kit counts iterations, not epochs",
    "color": "BasicSR's Y-channel mode, not used by srgan_kit (grey networks: network_g.num_in_ch/num_out_ch: 1)",
    "mean": "BasicSR's input normalisation, not used by srgan_kit",
    "std": "BasicSR's input normalisation, not used by srgan_kit",
}

# The training loader's keys (BasicSR's names; srgan_kit.training.runtime and .prefetch). pin_memory: page-locked
# batches when training on CUDA; persistent_workers: with workers; prefetch_factor: batches each worker loads
# ahead (~: torch's 2); prefetch_mode 'cuda': the next num_prefetch_queue batches copied to the GPU during the step.
PREFETCH_MODES = ("cpu", "cuda")
LOADER_FIELDS = {
    "pin_memory": Field(BOOL, True),
    "persistent_workers": Field(BOOL, True),
    "prefetch_factor": Field(INT, None, nullable=True, check=greater(0)),
    "prefetch_mode": Field(STR, None, nullable=True, choices=PREFETCH_MODES),
    "num_prefetch_queue": Field(INT, None, nullable=True, check=greater(0)),
}


def check_loader_keys(train_set, ctx):
    """The training loader's keys against each other (torch refuses prefetch_factor without workers)."""
    where = ("datasets", "train")
    if train_set.get("prefetch_factor") is not None and not train_set.get("num_worker_per_gpu"):
        ctx.problem(where + ("prefetch_factor",), f"{train_set['prefetch_factor']} needs num_worker_per_gpu > 0 "
                    "(workers load batches ahead; without them the training process loads each batch)")
    cuda = train_set.get("prefetch_mode") == "cuda"
    if train_set.get("num_prefetch_queue") is not None and not cuda:
        ctx.warn(where + ("num_prefetch_queue",), "used with prefetch_mode: cuda only (batches copied to the GPU "
                 "ahead); otherwise the loader's workers prefetch prefetch_factor batches each; ignored")
    if cuda and train_set.get("pin_memory") is False:
        ctx.warn(where + ("pin_memory",), "false, but prefetch_mode: cuda copies from page-locked memory; "
                 "pinned anyway")


# Metrics of evaluation and training validation when none are named (keys as val.best_metric names them).
DEFAULT_METRICS = ("psnr", "ssim")
# Channels a network may take or give (BasicSR's num_in_ch / num_out_ch): RGB, or grey (srgan_kit.data.channels).
CHANNEL_COUNTS = (1, 3)


def network_channels(network_opt):
    """(in, out) channels of a network option section (num_in_ch / num_out_ch, 3 when absent)."""
    return network_opt.get("num_in_ch", 3), network_opt.get("num_out_ch", 3)


def train_gt_size(opt):
    """(size, key path) of the training GT crops: the top-level gt_size (Real-ESRGAN's key, for model types that
    make their pairs on the device) wins over the training set's."""
    if opt.get("gt_size"):
        return opt["gt_size"], ("gt_size",)
    return opt["datasets"]["train"].get("gt_size"), ("datasets", "train", "gt_size")


def arch_node(required):
    size = Field(INT, check=greater(0))
    scale = Field(INT, choices=SCALES)
    known = {k: size for k in ("num_in_ch", "num_out_ch", "num_feat", "num_block", "num_grow_ch")}
    return Typed(reg.ARCHS, required=required, known={**known, "scale": scale, "upscale": scale})


def dataset_node(phase):
    """A dataset entry; ``phase`` 'train' (crops, batches) or 'val' (whole images, one at a time)."""
    path = Field(STR, check=NON_EMPTY)
    known = {
        "name": Field(STR), "dataroot_gt": path, "dataroot_lq": path,
        # their values: the dataset classes' check_arguments (srgan_kit.data.dataset_options)
        "filename_tmpl": Field(STR),
        "io_backend": Field(MAPPING, nullable=True),
        "use_hflip": Field(BOOL), "use_rot": Field(BOOL), "skip_small": Field(BOOL), "skip_bad_images": Field(BOOL),
        "gt_size": Field(INT, check=greater(0)),
    }
    unused = dict(DATASET_UNUSED)
    extra, require = {}, ()
    if phase == "train":
        known["dataroot_gt"] = Field(FOLDERS)
        require = ("gt_size",)
        extra = {"batch_size_per_gpu": Field(INT, REQUIRED, check=greater(0)),
                 "num_worker_per_gpu": Field(INT, 0, check=at_least(0)),
                 "use_shuffle": Field(BOOL, True), **LOADER_FIELDS}
    else:
        why = "not used for validation (whole images, one at a time, no augmentation, as in BasicSR)"
        unused.update({k: why for k in ("gt_size", "use_hflip", "use_rot", "skip_small",
                                        "batch_size_per_gpu", "num_worker_per_gpu", "use_shuffle", *LOADER_FIELDS)})
    return Typed(reg.DATASETS, supplied=("scale", "phase"), derived=("scale", "phase"), known=known,
                 require=require, extra=extra, unused=unused, aliases={"use_flip": "use_hflip"})


def metric_node():
    return Typed(
        reg.METRICS,
        supplied=("img", "img1", "img2"),
        optional=("crop_border",),  # srgan_kit.eval.conventions: the scale
        known={"crop_border": Field(INT, check=at_least(0)), "test_y_channel": Field(BOOL),
               "input_order": Field(STR, choices=("HWC", "CHW", "HW")),
               "net": Field(STR, choices=("alex", "vgg")),  # ST-LPIPS backbone
               "convert_to": Field(STR, choices=("y", "gray"))},  # NIQE colour conversion
        # which value is best (val.best_metric); absent: the metric's own direction (LPIPS: lower)
        extra={"better": Field(STR, None, choices=("higher", "lower"), nullable=True)},
    )


def optimizer_node(required=True):
    return Typed(reg.OPTIMIZERS, required=required, supplied=("params",), known={
        "lr": Field(FLOAT, check=greater(0)),
        "weight_decay": Field(NUMBER, check=at_least(0)),
        "betas": Field(list_of(FLOAT), check=each(half_open(0, 1))),  # how many: the optimiser's default
        "eps": Field(FLOAT, check=greater(0)),
    })


def scheduler_node():
    return Typed(reg.SCHEDULERS, required=False, supplied=("optimizer",), known={
        "milestones": Field(list_of(INT), check=each(at_least(0))),
        "gamma": Field(NUMBER, check=greater(0)),
        "periods": Field(list_of(INT), check=each(greater(0))),
        "restart_weights": Field(list_of(NUMBER), check=each(at_least(0))),
        "eta_min": Field(NUMBER, check=at_least(0)),
    })


def loss_node(required=False, known=None, default_type=None):
    return Typed(reg.LOSSES, required=required, default_type=default_type, known={
        "loss_weight": Field(NUMBER, check=at_least(0)),
        "reduction": Field(STR, choices=("none", "mean", "sum")),
        **(known or {}),
    })


def perceptual_loss_node():
    return Typed(reg.LOSSES, required=False, known={
        "layer_weights": Field(MAPPING),
        "vgg_type": Field(STR),
        "use_input_norm": Field(BOOL),
        "range_norm": Field(BOOL),
        "perceptual_weight": Field(NUMBER, check=at_least(0)),
        "style_weight": Field(NUMBER, check=at_least(0)),
        "pretrained_path": Field(STR, nullable=True),
    })


def base_schema(is_train):
    """The tree shared by every model type. Built fresh per call so model types can extend it safely."""
    dataset_names = r"train|(val|test)(_.*)?" if not is_train else r"train|val(_.*)?"
    path = Section(
        {
            "pretrain_network_g": Field(STR, None, nullable=True),
            # BasicSR's training default; for inference ~ = auto (params_ema > params > a bare state dict).
            "param_key_g": Field(STR, "params" if is_train else None, nullable=True),
            "strict_load_g": Field(BOOL, True),
            "resume_state": Field(STR, None, nullable=True),
        },
        aliases={"pretrain_model_g": "pretrain_network_g", "strict_load": "strict_load_g"},
        derived=("experiments_root", "results_root", "models", "training_states", "log", "visualization"),
    )
    train = Section(
        {
            "ema_decay": Field(FLOAT, 0.0, check=half_open(0, 1)),
            # Speed (srgan_kit.training.runtime): autocast dtype, memory format, torch.compile of G and D.
            "amp": Field(STR, "fp32", choices=PRECISIONS),
            "channels_last": Field(BOOL, False),
            "compile": Field(COMPILE, False),
            # Divergence (srgan_kit.training.trainer): updates with a non-finite loss or gradient are skipped;
            # this many skipped iterations in a row stop the run. grad_clip: max gradient norm (~ = off).
            "nan_tolerance": Field(INT, 3, check=greater(0)),
            # srgan_kit.training.health: a condition must hold this many iterations in a row to be reported
            # health conditions that end the run when reported
            "early_stop": Field(list_of(STR), [], check=each(one_of(EARLY_STOP_KEYS))),
            "health": Section({"patience": Field(INT, 100, check=greater(0)),
                               "gan_to_pix": Field(NUMBER, 10.0, check=greater(0)),
                               "d_chance": Field(NUMBER, 0.05, check=half_open(0, 0.5)),
                               "psnr_drop": Field(NUMBER, 1.0, check=greater(0)),
                               "colour_shift": Field(NUMBER, 0.02, check=greater(0))}),
            # Micro-batches per update: gradients add up, so N x batch_size_per_gpu is the batch of one update.
            "accumulate_grad_batches": Field(INT, 1, check=greater(0)),
            # traiNNer-redux's mixture of augmentations: one of moa_augs per sample, drawn with moa_probs;
            # moa_debug writes the first moa_debug_limit iterations' batches (0: all) to the run's moa_debug/.
            "use_moa": Field(BOOL, False),
            "moa_augs": Field(list_of(MOA_NAME), list(MOA_AUGS), check=NON_EMPTY),
            "moa_probs": Field(list_of(FLOAT), list(MOA_PROBS), check=each(at_least(0))),
            "moa_debug": Field(BOOL, False),
            "moa_debug_limit": Field(INT, 100, check=at_least(0)),
            "grad_clip": Field(NUMBER, None, nullable=True, check=greater(0)),
            "optim_g": optimizer_node(),
            "scheduler": scheduler_node(),
            "total_iter": Field(INT, check=greater(0)),
            "warmup_iter": Field(INT, -1, check=at_least(-1)),
            # The generator's loss terms (srgan_kit.losses.objective): BasicSR's named ones, then any others.
            "pixel_opt": loss_node(),
            "perceptual_opt": perceptual_loss_node(),
            "losses": ListOf(loss_node(required=True)),
        },
        required=is_train,
        absent=None,
    )
    val = Section(
        {
            "val_freq": Field(INT, check=greater(0)),
            "save_img": Field(BOOL, False),
            "best_metric": Field(STR, None, nullable=True),  # net_g_best by this metric (default: the first)
            "metrics": MapOf(metric_node(), key_pattern=r"[\w-]+",
                           key_expect="metric names (letters, digits, _ or -)"),
        },
        absent=None,
        unused={"pbar": "BasicSR's validation progress bar, not used by srgan_kit",
                "suffix": "BasicSR's test-image suffix, not used during training"},
    )
    logger = Section(
        {
            "print_freq": Field(INT, 100, check=greater(0)),
            "save_checkpoint_freq": Field(INT, 5000, check=greater(0)),
            "use_tb_logger": Field(BOOL, False),
            "save_format": Field(STR, "pth", choices=("pth", "safetensors")),  # network files
            # BasicSR's: Weights & Biases mirrors the TensorBoard log when project is set (wandb installed)
            "wandb": Section({"project": Field(STR, None, nullable=True), "resume_id": Field(STR, None, nullable=True),
                              "entity": Field(STR, None, nullable=True)}),
        },
    )
    return Section(
        {
            "name": Field(STR, check=RUN_NAME),
            "model_type": Field(STR, "sr"),
            "scale": Field(INT, choices=SCALES),
            "num_gpu": Field(count_or("auto"), "auto"),
            "manual_seed": Field(INT, None, check=half_open(0, 2**32), nullable=True),
            # traiNNer-redux's key: CUDA's deterministic kernels, so a resumed GPU run equals a straight one
            "deterministic": Field(BOOL, False),
            "datasets": MapOf(
                dataset_node("val"),
                named={"train": dataset_node("train")},
                required=is_train,
                key_pattern=dataset_names,
                key_expect="'train', 'val' or 'val_<anything>'" + (", 'test_<anything>'" if not is_train else ""),
            ),
            "network_g": arch_node(required=True),
            "network_d": arch_node(required=False),
            "path": path,
            "train": train,
            "val": val,
            "logger": logger,
        },
        required=True,
        unused=TOP_UNUSED,
        derived=("is_train",),
    )



# ---------------------------------------------------------------------------------------------------
# Model types.


@dataclass
class ModelType:
    """A kind of training (``model_type``): its options in srgan_kit.models.<type>_options (no torch), its step
    in srgan_kit.models.<type>.

    step_class: 'module:Class' of what performs one training iteration (``step(opt, runtime)``, see
        models/base.py); :attr:`step` imports it, so reading options never does.
    fields: {section ('' = top level, 'train', 'path', ...): {key: node}} added to the base schema.
    prepare(raw, given): optional; edits the raw option dict before validation (after --set), e.g. to
        fill what an alias implies (``given`` is the model_type as written, such as 'ESRGANModel').
    check(opt, ctx): optional cross-key checks on the validated dict (ctx.problem / ctx.warn).
    """

    name: str
    step_class: str
    fields: dict = field(default_factory=dict)
    prepare: object = None
    check: object = None

    @property
    def step(self):
        return reg.resolve(self.step_class)

    def schema(self, is_train):
        root = base_schema(is_train)
        for other in reg.MODEL_TYPES.values():
            if other is self:
                continue
            for section, nodes in other.fields.items():
                target = root if section == "" else root.fields[section]
                for key in nodes:
                    if key not in self.fields.get(section, {}) and key not in target.fields:
                        target.unused[key] = f"used by model_type {other.name!r} only, not by {self.name!r}"
        for section, nodes in self.fields.items():
            target = root if section == "" else root.fields[section]
            target.fields.update(nodes)
            for key in nodes:
                target.unused.pop(key, None)
        return root


# ---------------------------------------------------------------------------------------------------
# The option file's JSON Schema, for editors.


def option_json_schema(is_train=True):
    """The JSON Schema (draft-07) of a training option file: one if/then per model type on ``model_type``
    (absent: 'sr'), each holding that type's tree (``ModelType.schema``) as the nodes describe it."""
    doc = js.Document()
    cases = [(names, model.schema(is_train).to_json_schema(doc, model.name))
             for names, model in registry_groups(reg.MODEL_TYPES)]
    prop, branches = js.dispatch("model_type", cases, default="sr")
    prop["description"] = "the kind of training (BasicSR's model class names are accepted)"
    root = {"type": "object", "properties": {"model_type": prop}, "allOf": branches,
            "description": "An srgan_kit option file (BasicSR's layout)."}
    return doc.finish(root, "srgan_kit option file")


def option_json_schema_text(is_train=True):
    return js.dumps(option_json_schema(is_train))

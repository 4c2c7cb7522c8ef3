"""The option schema: which keys an option file may hold, their types, defaults and checks.

Declarative: the file's structure is a tree of nodes --
  Field    one value: a kind (int, float, ...), a default or REQUIRED, choices, a check;
  Section  a mapping with fixed keys (``train``, ``path``, ``logger`` ...);
  Typed    a mapping with a ``type`` key naming a registered class; its other keys must be that class's
           constructor parameters (srgan_kit.registry ``arguments``), plus a few non-constructor keys;
  MapOf    a mapping with free names (``datasets.<phase>``, ``val.metrics.<name>``).
Every mapping node also lists ``unused`` keys (BasicSR keys srgan_kit reads but does not use: one warning
each, then dropped), ``aliases`` (BasicSR's older key names) and ``derived`` keys (written by load_options;
accepted in saved files and recomputed).

Model types (MODEL_TYPES) extend the base tree: the GAN issue registers ``gan`` with its train/path keys
instead of editing the walker. ``validate`` walks the tree and reports problems and warnings in a Context;
srgan_kit.options turns them into one OptionError.
"""
import copy
import difflib
import inspect
import math
import re
from dataclasses import dataclass, field

from srgan_kit import registry as reg
from srgan_kit.errors import OptionError
from srgan_kit.losses import adversarial, feature_matching


class _Sentinel:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


REQUIRED = _Sentinel("REQUIRED")  # a Field default: the key must be given
SKIP = _Sentinel("SKIP")  # a Typed entry of a type srgan_kit lacks: dropped after one warning
INVALID = _Sentinel("INVALID")  # a value that produced a problem (left out of the result)
SCALES = (1, 2, 3, 4, 8)


class Mismatch(Exception):
    """A value that does not fit a kind / check (internal; reported as a problem by the walker)."""


# ---------------------------------------------------------------------------------------------------
# Kinds: how a raw YAML value becomes a typed one.


class Kind:
    def __init__(self, expect, coerce):
        self.expect = expect
        self.coerce = coerce


def _number_text(value):
    # PyYAML follows YAML 1.1, which reads `2e-4` (no dot) as a string: accept what float() accepts.
    try:
        number = float(value.strip())
    except ValueError:
        raise Mismatch from None
    if math.isnan(number):
        raise Mismatch
    return number


def _to_int(value):
    if isinstance(value, bool):
        raise Mismatch
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = _number_text(value)
    # BasicSR writes counts as `!!float 5e3`: an integral float is an int.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise Mismatch


def _to_float(value):
    if isinstance(value, bool):
        raise Mismatch
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _number_text(value)
    raise Mismatch


def _to_number(value):
    # Like float, but an int stays an int (constructor defaults such as weight_decay=0 take either).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _to_float(value)


def _to_bool(value):
    if isinstance(value, bool):
        return value
    raise Mismatch


def _to_str(value):
    if isinstance(value, str):
        return value
    raise Mismatch


def _to_mapping(value):
    if isinstance(value, dict):
        return value
    raise Mismatch


INT = Kind("an integer", _to_int)
FLOAT = Kind("a number", _to_float)
NUMBER = Kind("a number", _to_number)
BOOL = Kind("true or false", _to_bool)
STR = Kind("a string", _to_str)
MAPPING = Kind("a mapping", _to_mapping)
ANY = Kind("any value", lambda value: value)


def list_of(item=ANY, length=None):
    def coerce(value):
        if not isinstance(value, (list, tuple)) or (length is not None and len(value) != length):
            raise Mismatch
        return [item.coerce(v) for v in value]

    what = f"a list of {length} items" if length else "a list"
    return Kind(what if item is ANY else f"{what} ({item.expect} each)", coerce)


def count_or(word):
    """An integer >= 0, or one fixed word (num_gpu: 0, 1, ... or 'auto')."""

    def coerce(value):
        if value == word:
            return value
        value = _to_int(value)
        if value < 0:
            raise Mismatch
        return value

    return Kind(f"an integer >= 0 or {word!r}", coerce)


# ---------------------------------------------------------------------------------------------------
# Checks: a test on a coerced value plus the words that describe it in messages.


@dataclass(frozen=True)
class Check:
    test: object
    text: str


def at_least(low):
    return Check(lambda v: v >= low, f">= {low}")


def greater(low):
    return Check(lambda v: v > low, f"> {low}")


def half_open(low, high):
    return Check(lambda v: low <= v < high, f"in [{low}, {high})")


def each(check):
    return Check(lambda v: all(check.test(x) for x in v), f"each {check.text}")


NON_EMPTY = Check(lambda v: len(v) > 0, "not empty")
TEMPLATE = Check(lambda v: "{}" in v, "containing '{}' where the GT name goes")
RUN_NAME = Check(lambda v: bool(re.fullmatch(r"[^/\\]+", v)) and v not in (".", ".."), "usable as a folder name")


# ---------------------------------------------------------------------------------------------------
# Nodes.


class Field:
    """One value: kind, default (REQUIRED = must be given), optional choices / check, nullable (~ allowed)."""

    def __init__(self, kind, default=REQUIRED, *, choices=None, check=None, nullable=False):
        self.kind = kind
        self.default = default
        self.choices = tuple(choices) if choices is not None else None
        self.check = check
        self.nullable = nullable

    @property
    def required(self):
        return self.default is REQUIRED

    def expect(self):
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = self.kind.expect + (f" {self.check.text}" if self.check else "")
        return text + (" or ~ (none)" if self.nullable else "")

    def coerce(self, value):
        if value is None and self.nullable:
            return None
        value = self.kind.coerce(value)
        if self.choices is not None and value not in self.choices:
            raise Mismatch
        if self.check is not None and not self.check.test(value):
            raise Mismatch
        return value


class Section:
    """A mapping with fixed keys. ``absent``: value when the section is missing or ~ ({} = fill defaults)."""

    def __init__(self, fields, *, required=False, absent="defaults", unused=None, aliases=None, derived=()):
        self.fields = dict(fields)
        self.required = required
        self.absent = absent  # "defaults" -> validate {} ; None -> the section stays None
        self.unused = dict(unused or {})
        self.aliases = dict(aliases or {})
        self.derived = tuple(derived)


class Typed:
    """``{type: Name, **args}`` checked against a registry (see module docstring).

    supplied: constructor parameters srgan_kit passes itself (dataset scale/phase, optimizer params ...);
    known: stricter Fields for common parameters (used only when the class has that parameter; their
    defaults are ignored: the class's apply); require: parameters that must be given here even though
    the class has a default (a training set's gt_size); extra: non-constructor keys
    (e.g. batch_size_per_gpu), filled with their defaults; unavailable: types BasicSR has and srgan_kit
    does not (yet): the entry is dropped after one warning.
    """

    def __init__(self, registry, *, required=True, supplied=(), known=None, require=(), extra=None, unused=None,
                 aliases=None, derived=(), unavailable=None):
        self.registry = registry
        self.require = tuple(require)
        self.required = required
        self.supplied = tuple(supplied)
        self.known = dict(known or {})
        self.extra = dict(extra or {})
        self.unused = dict(unused or {})
        self.aliases = dict(aliases or {})
        self.derived = tuple(derived)
        self.unavailable = dict(unavailable or {})

    def parameters(self, type_name):
        """({key: Field} a spec of this type may hold besides 'type', keys whose absence is left implicit).

        Constructor parameters with a default are not filled in (the class applies its own default);
        ``extra`` keys are filled with their schema defaults.
        """
        fields, implicit = {}, set()
        for name, default in self.registry.arguments(type_name).items():
            if name in self.supplied:
                continue
            required = name in self.require or default is inspect.Parameter.empty
            known = self.known.get(name)
            if known is None:
                fields[name] = _field_from_default(REQUIRED if required else default)
            else:
                fields[name] = Field(known.kind, REQUIRED if required else default, choices=known.choices,
                                     check=known.check, nullable=known.nullable or (not required and default is None))
            if not required:
                implicit.add(name)
        fields.update(self.extra)
        return fields, implicit


class MapOf:
    """A mapping of free names to nodes; ``value`` is a node or a function name -> node."""

    def __init__(self, value, *, required=False, key_pattern=r".+", key_expect="a name"):
        self.value = value
        self.required = required
        self.key_pattern = key_pattern
        self.key_expect = key_expect

    def node_for(self, key):
        return self.value(key) if callable(self.value) else self.value

    def key_ok(self, key):
        return isinstance(key, str) and re.fullmatch(self.key_pattern, key) is not None


def optional_fields(node):
    """Every optional Field under ``node`` (through Sections and a Typed node's extra keys), so a self-check
    can assert that each default passes its own Field's checks."""
    if isinstance(node, Field):
        if not node.required:
            yield node
    elif isinstance(node, Section):
        for sub in node.fields.values():
            yield from optional_fields(sub)
    elif isinstance(node, Typed):
        for sub in node.extra.values():
            yield from optional_fields(sub)


def _field_from_default(default):
    """A constructor parameter without a schema entry: type from its default (REQUIRED: any value)."""
    if default is REQUIRED:
        return Field(ANY)
    if isinstance(default, bool):
        return Field(BOOL, default)
    if isinstance(default, (int, float)):
        return Field(NUMBER, default)
    if isinstance(default, str):
        return Field(STR, default)
    if isinstance(default, (list, tuple)):
        return Field(list_of(), default)
    return Field(ANY, default, nullable=True)


# ---------------------------------------------------------------------------------------------------
# The walker.


def dotted(path):
    return ".".join(str(p) for p in path)


@dataclass
class Context:
    """What a validation found: problems (path, message), warnings (path, message), given derived keys."""

    is_train: bool = True
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    derived_given: dict = field(default_factory=dict)

    def problem(self, path, message):
        self.problems.append((tuple(path), message))

    def warn(self, path, message):
        self.warnings.append((tuple(path), message))

    def unknown(self, path, candidates):
        key = str(path[-1])
        names = sorted(str(c) for c in candidates)
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        if not close:  # case slips (Gt_Size) are typos too
            lowered = {n.lower(): n for n in names}
            close = [lowered[m] for m in difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)]
        message = "unknown key"
        if close:
            message += f" (did you mean '{dotted(path[:-1] + (close[0],))}'?)"
        message += f"; valid keys here: {', '.join(names)}" if names else "; no keys are valid here"
        self.problem(path, message)


def validate(node, value, path, ctx, present=True):
    """Return the cleaned value of ``value`` under ``node`` (INVALID / SKIP on failure / drop)."""
    if not present:
        return _absent(node, path, ctx)
    if isinstance(node, Field):
        try:
            return node.coerce(value)
        except Mismatch:
            ctx.problem(path, f"expected {node.expect()}, got {value!r}")
            return INVALID
    if isinstance(node, Section):
        return _walk_section(node, value, path, ctx)
    if isinstance(node, Typed):
        return _walk_typed(node, value, path, ctx)
    if isinstance(node, MapOf):
        return _walk_map(node, value, path, ctx)
    raise TypeError(f"not a schema node: {node!r}")


def _absent(node, path, ctx):
    if isinstance(node, Field):
        if node.required:
            ctx.problem(path, f"missing required key (expected {node.expect()})")
            return INVALID
        return copy.deepcopy(node.default)
    if node.required:
        what = describe(node)
        ctx.problem(path, f"missing required section (expected {what})")
        return INVALID
    if isinstance(node, Section):
        return None if node.absent is None else _walk_section(node, {}, path, ctx)
    if isinstance(node, MapOf):
        return {}
    return None  # an optional Typed (scheduler, network_d, pixel_opt)


def describe(node):
    if isinstance(node, Field):
        return node.expect()
    if isinstance(node, Typed):
        names = node.registry.names()
        return f"a mapping with 'type': one of {', '.join(names)}" if names else f"a {node.registry.kind} mapping"
    if isinstance(node, MapOf):
        return f"a mapping of {node.key_expect} to settings"
    return "a mapping with keys " + ", ".join(node.fields)


def _mapping(value, path, ctx, node):
    if not isinstance(value, dict):
        ctx.problem(path, f"expected {describe(node)}, got {value!r}")
        return None
    return value


def _rename_aliases(node, value, path, ctx):
    """BasicSR's older key names (use_flip, strict_load ...) are read as the current ones, with a warning."""
    out = {}
    for key, val in value.items():
        new = node.aliases.get(key)
        if new is None:
            out.setdefault(key, val)
            continue
        if new in value:
            ctx.problem(path + (key,), f"both '{key}' (BasicSR's older name) and '{new}' are given; keep '{new}'")
            continue
        ctx.warn(path + (key,), f"BasicSR's older name for '{new}'; read as {dotted(path + (new,))}")
        out[new] = val
    return out


def _walk_keys(node, value, path, ctx, fields, extra_ok=(), implicit=()):
    """Shared by Section and Typed: unused / derived / fields / unknown, then absent fields."""
    out = {}
    for key, val in value.items():
        kp = path + (key,)
        if key in extra_ok:
            continue
        if key in node.unused:
            ctx.warn(kp, f"{node.unused[key]}; ignored")
        elif key in node.derived:
            ctx.derived_given[kp] = val
        elif key in fields:
            cleaned = validate(fields[key], val, kp, ctx)
            if cleaned is not INVALID and cleaned is not SKIP:
                out[key] = cleaned
        else:
            ctx.unknown(kp, list(fields))
    for key, sub in fields.items():
        if key not in value and key not in implicit:
            cleaned = validate(sub, None, path + (key,), ctx, present=False)
            if cleaned is not INVALID:
                out[key] = cleaned
    return out


def _walk_section(node, value, path, ctx):
    if value is None:
        if node.absent is None:
            return None
        value = {}
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    value = _rename_aliases(node, value, path, ctx)
    cleaned = _walk_keys(node, value, path, ctx, node.fields)
    # Schema order, so saved options read the same for every run.
    return {key: cleaned[key] for key in node.fields if key in cleaned}


def _walk_typed(node, value, path, ctx):
    if value is None and not node.required:
        return None
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    kind = node.registry.kind
    if "type" not in value:
        ctx.problem(path + ("type",), f"missing required key (expected {describe(node)})")
        return INVALID
    name = value["type"]
    if isinstance(name, str) and name not in node.registry and name in node.unavailable:
        ctx.warn(path, f"{kind} type {name!r}: {node.unavailable[name]}; this entry is ignored")
        return SKIP
    if not isinstance(name, str) or name not in node.registry:
        hint = node.registry.nearest(name) if isinstance(name, str) else None
        message = f"unknown {kind} type {name!r}"
        message += f" (did you mean {hint!r}?)" if hint else ""
        names = node.registry.names()
        message += f"; known: {', '.join(names)}" if names else f"; no {kind} types are registered"
        ctx.problem(path + ("type",), message)
        return INVALID
    value = _rename_aliases(node, value, path, ctx)
    fields, implicit = node.parameters(name)
    for key in node.supplied:
        if key in value and key not in node.derived:
            ctx.problem(path + (key,), f"set by srgan_kit when it builds the {kind}; remove it from the options")
    supplied = tuple(k for k in node.supplied if k not in node.derived)
    cleaned = _walk_keys(node, value, path, ctx, fields, extra_ok=("type",) + supplied, implicit=implicit)
    out = {"type": name}
    out.update((k, cleaned[k]) for k in value if k in cleaned)
    out.update((k, v) for k, v in cleaned.items() if k not in out)
    return out


def _walk_map(node, value, path, ctx):
    if value is None:
        value = {}
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    out = {}
    for key, val in value.items():
        kp = path + (str(key),)
        if not node.key_ok(key):
            ctx.problem(kp, f"unexpected name {key!r} (expected {node.key_expect})")
            continue
        cleaned = validate(node.node_for(key), val, kp, ctx)
        if cleaned is not INVALID and cleaned is not SKIP:
            out[key] = cleaned
    return out


# ---------------------------------------------------------------------------------------------------
# Looking up the node of a key path (typing --set overrides before validation).


class UnknownPath(Exception):
    """An override names a key the schema does not have; ``args`` = (message,)."""


def node_at(node, raw, keys, done=()):
    """Return (node or None, canonical key path) for ``keys`` below ``node``; ``raw`` is the file's data there.

    None means "no typing available" (an unused BasicSR key, or a Typed entry whose type is not known
    yet): the override is stored as YAML reads it and validation reports what is wrong.
    """
    if not keys:
        return node, done
    key, rest = keys[0], keys[1:]
    sub = raw.get(key) if isinstance(raw, dict) else None
    if isinstance(node, Field):
        raise UnknownPath(f"{dotted(done)} is a single value, not a section")
    if isinstance(node, MapOf):
        if not node.key_ok(key):
            raise UnknownPath(f"{dotted(done + (key,))}: unexpected name (expected {node.key_expect})")
        return node_at(node.node_for(key), sub, rest, done + (key,))
    key = node.aliases.get(key, key)
    sub = raw.get(key, sub) if isinstance(raw, dict) else None
    if key in node.unused or key in node.derived:
        return None, done + (key,) + tuple(rest)
    if isinstance(node, Section):
        fields = node.fields
    else:
        if key == "type":
            if rest:
                raise UnknownPath(f"{dotted(done + (key,))} is a single value, not a section")
            return Field(STR), done + (key,)
        name = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(name, str) or name not in node.registry:
            return None, done + (key,) + tuple(rest)
        fields = node.parameters(name)[0]
    if key not in fields:
        probe = Context()
        probe.unknown(done + (key,), list(fields))
        raise UnknownPath(f"{dotted(done + (key,))}: {probe.problems[0][1]}")
    return node_at(fields[key], sub, rest, done + (key,))


# ---------------------------------------------------------------------------------------------------
# srgan_kit's schema.

# GAN training keys: read (one warning) until a model type that uses them is selected (issue 3).
GAN_TRAIN_KEYS = ("perceptual_opt", "gan_opt", "optim_d", "net_d_iters", "net_d_init_iters", "scheduler_d",
                  "feature_matching_opt", "d_clip")
GAN_PATH_KEYS = ("pretrain_network_d", "param_key_d", "strict_load_d")
TOP_UNUSED = {
    "dist_params": "BasicSR's distributed settings; srgan_kit reads them from torchrun's environment",
    "find_unused_parameters": "BasicSR's DistributedDataParallel flag, not used by srgan_kit",
}
DATASET_UNUSED = {
    "meta_info_file": "BasicSR's file list; srgan_kit pairs every image in the folders",
    "dataset_enlarge_ratio": "BasicSR's epoch-length multiplier; srgan_kit counts iterations, not epochs",
    "prefetch_mode": "BasicSR's CUDA/CPU prefetcher, not used by srgan_kit",
    "pin_memory": "BasicSR's data loader flag, not used by srgan_kit",
    "persistent_workers": "BasicSR's data loader flag, not used by srgan_kit",
    "num_prefetch_queue": "BasicSR's prefetcher queue, not used by srgan_kit",
    "color": "BasicSR's grayscale mode, not used by srgan_kit (images are read as RGB)",
    "mean": "BasicSR's input normalisation, not used by srgan_kit",
    "std": "BasicSR's input normalisation, not used by srgan_kit",
}
UNAVAILABLE_METRICS = {
    "calculate_fid": "not available in srgan_kit yet",
}


def _io_backend_ok(value):
    return value.get("type", "disk") == "disk" and set(value) <= {"type"}


IO_BACKEND = Check(_io_backend_ok, "with type: disk (lmdb and other backends are not supported)")


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
        "filename_tmpl": Field(STR, check=TEMPLATE),
        "io_backend": Field(MAPPING, check=IO_BACKEND, nullable=True),
        "use_hflip": Field(BOOL), "use_rot": Field(BOOL), "skip_small": Field(BOOL),
        "gt_size": Field(INT, check=greater(0)),
    }
    unused = dict(DATASET_UNUSED)
    extra, require = {}, ()
    if phase == "train":
        require = ("gt_size",)
        extra = {"batch_size_per_gpu": Field(INT, REQUIRED, check=greater(0)),
                 "num_worker_per_gpu": Field(INT, 0, check=at_least(0)),
                 "use_shuffle": Field(BOOL, True)}
    else:
        why = "not used for validation (whole images, one at a time, no augmentation, as in BasicSR)"
        unused.update({k: why for k in ("gt_size", "use_hflip", "use_rot", "skip_small",
                                        "batch_size_per_gpu", "num_worker_per_gpu", "use_shuffle")})
    return Typed(reg.DATASETS, supplied=("scale", "phase"), derived=("scale", "phase"), known=known,
                 require=require, extra=extra, unused=unused, aliases={"use_flip": "use_hflip"})


def metric_node():
    return Typed(
        reg.METRICS,
        supplied=("img", "img1", "img2"),
        known={"crop_border": Field(INT, check=at_least(0)), "test_y_channel": Field(BOOL),
               "input_order": Field(STR, choices=("HWC", "CHW", "HW")),
               "net": Field(STR, choices=("alex", "vgg")),  # ST-LPIPS backbone
               "convert_to": Field(STR, choices=("y", "gray"))},  # NIQE colour conversion
        extra={"better": Field(STR, "higher", choices=("higher", "lower"))},
        unavailable=UNAVAILABLE_METRICS,
    )


def optimizer_node(required=True):
    return Typed(reg.OPTIMIZERS, required=required, supplied=("params",), known={
        "lr": Field(FLOAT, check=greater(0)),
        "weight_decay": Field(NUMBER, check=at_least(0)),
        "betas": Field(list_of(FLOAT, 2), check=each(half_open(0, 1))),
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


def loss_node(required=False):
    return Typed(reg.LOSSES, required=required, known={
        "loss_weight": Field(NUMBER, check=at_least(0)),
        "reduction": Field(STR, choices=("none", "mean", "sum")),
    })


def base_schema(is_train):
    """The tree shared by every model type. Built fresh per call so model types can extend it safely."""
    dataset_names = r"train|(val|test)(_.*)?" if not is_train else r"train|val(_.*)?"
    gan_only = "used by GAN training only; not by this model type"
    path = Section(
        {
            "pretrain_network_g": Field(STR, None, nullable=True),
            # BasicSR's training default; for inference ~ = auto (params_ema > params > a bare state dict).
            "param_key_g": Field(STR, "params" if is_train else None, nullable=True),
            "strict_load_g": Field(BOOL, True),
            "resume_state": Field(STR, None, nullable=True),
        },
        aliases={"pretrain_model_g": "pretrain_network_g", "strict_load": "strict_load_g"},
        unused={k: gan_only for k in GAN_PATH_KEYS},
        derived=("experiments_root", "results_root", "models", "training_states", "log", "visualization"),
    )
    train = Section(
        {
            "ema_decay": Field(FLOAT, 0.0, check=half_open(0, 1)),
            "optim_g": optimizer_node(),
            "scheduler": scheduler_node(),
            "total_iter": Field(INT, check=greater(0)),
            "warmup_iter": Field(INT, -1, check=at_least(-1)),
            "pixel_opt": loss_node(),
        },
        required=is_train,
        absent=None,
        unused={k: gan_only for k in GAN_TRAIN_KEYS},
    )
    val = Section(
        {
            "val_freq": Field(INT, check=greater(0)),
            "save_img": Field(BOOL, False),
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
        },
        unused={"wandb": "Weights & Biases logging is not supported by srgan_kit (use_tb_logger writes TensorBoard)"},
    )
    return Section(
        {
            "name": Field(STR, check=RUN_NAME),
            "model_type": Field(STR, "sr"),
            "scale": Field(INT, choices=SCALES),
            "num_gpu": Field(count_or("auto"), "auto"),
            "manual_seed": Field(INT, None, check=half_open(0, 2**32), nullable=True),
            "datasets": MapOf(
                lambda key: dataset_node("train" if key == "train" else "val"),
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
    """A training model.

    fields: {section ('' = top level, 'train', 'path', ...): {key: node}} added to the base schema; a key
        the base lists as unused (the GAN keys) becomes a validated key.
    prepare(raw, given): optional; edits the raw option dict before validation (after --set), e.g. to
        fill what an alias implies (``given`` is the model_type as written, such as 'ESRGANModel').
    check(opt, ctx): optional cross-key checks on the validated dict (ctx.problem / ctx.warn).
    """

    name: str
    aliases: tuple = ()
    fields: dict = field(default_factory=dict)
    prepare: object = None
    check: object = None

    def schema(self, is_train):
        root = base_schema(is_train)
        for section, nodes in self.fields.items():
            target = root if section == "" else root.fields[section]
            target.fields.update(nodes)
            for key in nodes:
                target.unused.pop(key, None)
        return root


MODEL_TYPES = {}  # canonical name -> ModelType
MODEL_ALIASES = {}  # BasicSR class name -> canonical name
# Known BasicSR model classes srgan_kit does not train yet: a clear message instead of "unknown".
PENDING_MODEL_TYPES = {
    "RealESRGANModel": "Real-ESRGAN training", "RealESRNetModel": "Real-ESRNet training",
}


def register_model_type(model_type):
    for name in (model_type.name, *model_type.aliases):
        MODEL_ALIASES[name] = model_type.name
    MODEL_TYPES[model_type.name] = model_type
    return model_type


def _check_sr(opt, ctx):
    if ctx.is_train and opt.get("train") and opt["train"].get("pixel_opt") is None:
        ctx.problem(("train", "pixel_opt"), "missing required section (model_type 'sr' trains with a pixel loss: "
                    "a mapping with 'type': L1Loss, MSELoss or CharbonnierLoss)")
    if opt.get("network_d") is not None:
        ctx.warn(("network_d",), "not used by model_type 'sr' (only GAN training uses a discriminator)")


register_model_type(ModelType("sr", aliases=("SRModel",), check=_check_sr))


# ---------------------------------------------------------------------------------------------------
# GAN training (srgan_kit.training.gan_step): model_type 'gan', BasicSR's SRGANModel and ESRGANModel.

# The weight a loss term gets when the file names the term but not its weight (the defaults).
GAN_DEFAULT_WEIGHTS = {
    "pixel_opt": ("loss_weight", 1.0),
    "perceptual_opt": ("perceptual_weight", 1.0),
    "gan_opt": ("loss_weight", 1e-3),
}


def gan_loss_node():
    return Typed(reg.LOSSES, required=False, known={
        "gan_type": Field(STR, choices=adversarial.GAN_TYPES),
        "relativistic": Field(STR, choices=adversarial.RELATIVISTIC),
        "real_label_val": Field(NUMBER),
        "fake_label_val": Field(NUMBER),
        "loss_weight": Field(NUMBER, check=at_least(0)),
        "gp_weight": Field(NUMBER, check=at_least(0)),
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


def feature_matching_node():
    """train.feature_matching_opt: no 'type' (one loss); absent or ~ = off."""
    return Section({
        "loss_weight": Field(NUMBER, 1.0, check=at_least(0)),
        "criterion": Field(STR, "l1", choices=feature_matching.CRITERIA),
        "layers": Field(list_of(INT), None, nullable=True, check=NON_EMPTY),
    }, absent=None)


def _prepare_gan(raw, given):
    """Fill what the file leaves implicit: ESRGANModel's relativistic average, the default loss weights."""
    train = raw.get("train")
    if not isinstance(train, dict):
        return
    gan_opt = train.get("gan_opt")
    if given == "ESRGANModel" and isinstance(gan_opt, dict):
        gan_opt.setdefault("relativistic", "average")
    for key, (weight, default) in GAN_DEFAULT_WEIGHTS.items():
        spec = train.get(key)
        name = spec.get("type") if isinstance(spec, dict) else None
        if isinstance(name, str) and name in reg.LOSSES and weight in reg.LOSSES.arguments(name):
            spec.setdefault(weight, default)


def _check_gan(opt, ctx):
    if not ctx.is_train:
        return
    if opt.get("network_d") is None:
        ctx.problem(("network_d",), "missing required section (GAN training needs a discriminator: a mapping "
                    "with 'type': VGGStyleDiscriminator, PatchGANDiscriminator or UNetDiscriminatorSN)")
    train = opt.get("train")
    if not train:
        return
    gan_opt = train.get("gan_opt")
    if gan_opt is None:
        ctx.problem(("train", "gan_opt"), "missing required section (GAN training needs an adversarial loss: "
                    "a mapping with 'type': GANLoss, e.g. gan_type: vanilla)")
    elif not issubclass(reg.LOSSES.get(gan_opt["type"]), adversarial.GANLoss):
        ctx.problem(("train", "gan_opt", "type"), f"expected GANLoss (the adversarial loss), got {gan_opt['type']!r}")
    else:
        try:
            adversarial.check_clip_and_gp(gan_opt.get("gan_type", "vanilla"), train.get("d_clip"))
        except OptionError as exc:
            ctx.problem(("train", "d_clip"), str(exc))
    _check_discriminator_size(opt, ctx)


def _check_discriminator_size(opt, ctx):
    """A discriminator with a fixed input size (VGG-style) must see crops of exactly that size."""
    net_d, train_set = opt.get("network_d"), opt["datasets"].get("train")
    if net_d is None or not train_set:
        return
    args = reg.ARCHS.arguments(net_d["type"])
    if "input_size" in args and "gt_size" in train_set:
        size = net_d.get("input_size", args["input_size"])
        if size != train_set["gt_size"]:
            ctx.problem(("datasets", "train", "gt_size"),
                        f"{train_set['gt_size']} does not match network_d.input_size {size} "
                        f"({net_d['type']} sees the ground-truth crops whole)")


register_model_type(ModelType(
    "gan",
    aliases=("SRGANModel", "ESRGANModel"),
    fields={
        "train": {
            "optim_d": optimizer_node(),
            "scheduler_d": scheduler_node(),  # absent: D gets its own instance of train.scheduler
            "gan_opt": gan_loss_node(),
            "perceptual_opt": perceptual_loss_node(),
            "feature_matching_opt": feature_matching_node(),
            "net_d_iters": Field(INT, 1, check=greater(0)),
            "net_d_init_iters": Field(INT, 0, check=at_least(0)),
            "d_clip": Field(NUMBER, None, nullable=True, check=at_least(0)),
        },
        "path": {
            "pretrain_network_d": Field(STR, None, nullable=True),
            "param_key_d": Field(STR, "params", nullable=True),
            "strict_load_d": Field(BOOL, True),
        },
    },
    prepare=_prepare_gan,
    check=_check_gan,
))

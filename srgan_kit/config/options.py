"""Option files: YAML with BasicSR's structure -> validated, typed options (a nested dict).

load_options reads the file, applies ``--set key.path=value`` overrides (typed by the schema in
srgan_kit.config.schema), validates everything, then adds the keys the rest of srgan_kit reads:
  opt['is_train'], opt['model_type'] (canonical: 'sr'), opt['manual_seed'] (drawn when ~, like BasicSR),
  opt['datasets'][k]['phase'] ('train' | 'val') and ['scale'],
  opt['path'] experiments_root, models, training_states, log, visualization (training) or
              results_root, log, visualization (is_train=False),
  relative data / weights paths joined with ``root`` (default: the current folder),
  opt['_warnings'] (one text per BasicSR key srgan_kit does not use), opt['_file'].
Every problem ends the run with one OptionError naming the file and the key path.
"""
import os
import random
import warnings
from pathlib import Path

import yaml

from srgan_kit.config import engine
from srgan_kit.config.engine import dotted
from srgan_kit.config.schema import (CHANNEL_COUNTS, DEFAULT_METRICS, MOA_AUGS, check_loader_keys,
                                     network_channels, train_gt_size)
from srgan_kit.errors import OptionError, WeightsError, did_you_mean
from srgan_kit.fileio import write_text_atomic
from srgan_kit.registry import ARCHS, LOSSES, METRICS, MODEL_TYPES, OPTIMIZERS, network_in_file
from srgan_kit.run_folder import run_paths


class OptionWarning(UserWarning):
    """An option srgan_kit reads but does not use (mostly BasicSR-only keys)."""


# ---------------------------------------------------------------------------------------------------
# Reading YAML.


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key: let PyYAML report it
            break
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path):
    """The top-level mapping of an option file; OptionError naming the file for every way it can fail."""
    path = Path(path)
    if not path.exists():
        raise OptionError(f"{path}: option file not found")
    if path.is_dir():
        raise OptionError(f"{path}: is a folder, not an option file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: cannot read the option file ({exc})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise OptionError(f"{path}: {where}invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise OptionError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        raise OptionError(f"{path}: the option file is empty (expected a mapping: name, model_type, scale, ...)")
    if not isinstance(data, dict):
        raise OptionError(
            f"{path}: the top level must be a mapping of option keys (name: ..., scale: ...), "
            f"got a {type(data).__name__}"
        )
    return data


# ---------------------------------------------------------------------------------------------------
# --set overrides.


def parse_override(text):
    """'train.optim_g.lr=1e-4' -> (['train', 'optim_g', 'lr'], '1e-4'). The value is typed later."""
    key, sep, value = str(text).partition("=")
    keys = key.strip().split(".")
    if not sep or not all(k.strip() for k in keys):
        raise OptionError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. --set train.optim_g.lr=1e-4")
    return [k.strip() for k in keys], value.strip()


def _convert(node, text):
    """A --set value typed by its schema node (Field: coerced and checked; others: as YAML reads it)."""
    try:
        loaded = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        loaded = text
    if not isinstance(node, engine.Field):
        return loaded
    if node.kind is engine.STR and isinstance(loaded, (str, int, float, bool)) and text[:1] not in "'\"":
        loaded = text  # a name like 001 or true stays the text the user typed
    return node.coerce(loaded)


def _store(raw, keys, value, fail):
    target = raw
    for i, key in enumerate(keys[:-1]):
        child = target[key] if isinstance(key, int) else target.get(key)  # an int indexes a list item
        if child is None:
            child = target[key] = {}
        elif not isinstance(child, (dict, list)):
            fail(f"{dotted(keys[: i + 1])} is {child!r} in the file, not a mapping")
        target = child
    target[keys[-1]] = value


def _apply_override(tree, raw, keys, text, file, sources):
    label = f"{file}: --set {dotted(keys)}={text}"

    def fail(message):
        raise OptionError(f"{label}: {message}")

    try:
        node, canonical = engine.node_at(tree, raw, list(keys))
    except engine.UnknownPath as exc:
        fail(exc.args[0])
    try:
        value = _convert(node, text)
    except engine.Mismatch:
        fail(f"{dotted(canonical)}: expected {node.expect()}, got {text!r}")
    _store(raw, canonical, value, fail)
    sources[tuple(canonical)] = f"--set {dotted(keys)}={text}"


# ---------------------------------------------------------------------------------------------------
# Loading.


def _model_type(raw, file):
    """The registered ModelType the file asks for (BasicSR's class names are aliases)."""
    name = raw.get("model_type", "sr")
    if isinstance(name, str) and name in MODEL_TYPES:
        return MODEL_TYPES.get(name)
    raise OptionError(f"{file}: model_type: {MODEL_TYPES.unknown_message(name)}")


def _network_from_weights(raw, file, sources):
    """An option file without network_g whose path.pretrain_network_g names a model file: the network is the
    one detected in the file (fine-tuning a downloaded model needs no network_g). Imports torch."""
    paths = raw.get("path")
    weights = paths.get("pretrain_network_g") if isinstance(paths, dict) else None
    if "network_g" in raw or not isinstance(weights, str) or not os.path.isfile(os.path.expanduser(weights)):
        return
    try:
        spec = network_in_file(os.path.expanduser(weights), paths.get("param_key_g"))
    except WeightsError as exc:
        raise OptionError(f"{file}: path.pretrain_network_g: {exc}") from None
    raw["network_g"] = spec
    sources[("network_g",)] = f"path.pretrain_network_g: a {spec['type']} detected in {weights}"


def load_options(path, overrides=(), is_train=True, root=None, check_paths=None):
    """Read, override, validate and resolve an option file; see the module docstring for the result.

    overrides: 'a.b.c=value' strings or (key list, value text) pairs from parse_override, applied in order
    before validation. root: folder that experiments/ (results/) and relative paths hang from (default cwd).
    check_paths: require data folders and weights / state files to exist (default: is_train).
    """
    file = Path(path)
    root = os.path.abspath(os.path.expanduser(str(root))) if root is not None else os.getcwd()
    check_paths = is_train if check_paths is None else check_paths
    raw = read_yaml(file)

    if isinstance(overrides, str):
        overrides = [overrides]
    pairs = [parse_override(o) if isinstance(o, str) else (list(o[0]), str(o[1])) for o in overrides]
    sources = {}
    # model_type decides the schema, so its overrides go first.
    for keys, text in pairs:
        if keys == ["model_type"]:
            raw["model_type"] = text
            sources[("model_type",)] = f"--set model_type={text}"
    model = _model_type(raw, file)
    tree = model.schema(is_train)
    for keys, text in pairs:
        if keys != ["model_type"]:
            _apply_override(tree, raw, keys, text, file, sources)
    _network_from_weights(raw, file, sources)
    if model.prepare is not None:
        model.prepare(raw, raw.get("model_type", model.name))

    ctx = engine.Context(is_train=is_train)
    opt = engine.validate(tree, raw, (), ctx)
    if not ctx.problems:
        opt["model_type"] = model.name
        _cross_check(opt, ctx)
        if model.check is not None:
            model.check(opt, ctx)
    engine.raise_problems(file, ctx, sources)

    _derive(opt, ctx, root, is_train)
    if check_paths:
        _check_paths(opt, ctx)
        engine.raise_problems(file, ctx, sources)

    opt["_warnings"] = [f"{file}: {dotted(p) + ': ' if p else ''}{m}" for p, m in ctx.warnings]
    for text in opt["_warnings"]:
        warnings.warn(text, OptionWarning, stacklevel=2)
    opt["_file"] = str(file)
    return opt


def _size_rule(registry, spec):
    """The SizeRule of a registered class built with ``spec`` (its ``size_requirements``), or None."""
    rule = registry.attribute(spec["type"], "size_requirements")
    return rule and rule(registry.with_defaults(spec["type"], spec))


def _crop_problem(net, gt_size, scale):
    """None, or why training GT crops of ``gt_size`` (LR sides gt_size / scale) do not fit the network's size rule."""
    rule = _size_rule(ARCHS, net)
    lr = gt_size // scale
    if rule is None or rule.accepts(lr):
        return None
    return (f"{gt_size} gives {lr}x{lr} LR crops, but {net['type']} takes LR sides of {rule.describe()}; "
            f"use a gt_size of {rule.padded(lr) * scale}")


def _loss_crop_problems(opt, ctx, size, where):
    """Loss terms that take only some image sizes (their ``size_requirements``) against GT crops of ``size``."""
    train = opt.get("train") or {}
    entries = [(("train", k), v) for k, v in train.items() if k.endswith("_opt") and isinstance(v, dict)]
    entries += [(("train", "losses", str(i)), v) for i, v in enumerate(train.get("losses") or [])]
    for path, spec in entries:
        if not isinstance(spec.get("type"), str) or spec["type"] not in LOSSES:
            continue
        needs = _size_rule(LOSSES, spec)
        if needs and not needs.accepts(size):
            ctx.problem(path, f"{spec['type']} takes images of {needs.describe()} pixels, but the training crops "
                        f"are {size} ({dotted(where)})")


def _cross_check(opt, ctx):
    """Checks that span keys: the network's scale, gt_size vs scale, datasets vs the val section."""
    scale = opt["scale"]
    net = opt["network_g"]
    args = ARCHS.arguments(net["type"])
    key = ARCHS.attribute(net["type"], "scale_key")
    if key in args:
        value = net.get(key, args[key])
        if value != scale:
            origin = "" if key in net else f" ({net['type']}'s default; set network_g.{key}: {scale})"
            ctx.problem(("network_g", key), f"{value}{origin} does not match scale: {scale}")
    datasets = opt["datasets"]
    if ctx.is_train and "train" not in datasets:
        ctx.problem(("datasets", "train"), "missing required section (the training set)")
    train_set = datasets.get("train")
    if ctx.is_train and train_set and train_set.get("gt_size", 0) % scale:
        ctx.problem(("datasets", "train", "gt_size"), f"{train_set['gt_size']} is not a multiple of scale {scale}")
    elif ctx.is_train and train_set and train_gt_size(opt)[0]:
        size, where = train_gt_size(opt)
        problem = _crop_problem(net, size, scale)
        if problem:
            ctx.problem(where, problem)
        _loss_crop_problems(opt, ctx, size, where)
    if not ctx.is_train:
        return
    for key, spec in (opt.get("train") or {}).items():
        if key.startswith("optim_") and isinstance(spec, dict) and "betas" in spec:
            # Optimisers unpack their betas only at the first step: the count is checked here.
            default = OPTIMIZERS.arguments(spec["type"]).get("betas")
            if isinstance(default, (list, tuple)) and len(spec["betas"]) != len(default):
                ctx.problem(("train", key, "betas"), f"expected a list of {len(default)} items for {spec['type']} "
                            f"(default {list(default)}), got {list(spec['betas'])}")
    _schedule_free_problems(opt["train"], ctx)
    _moa_problems(opt["train"], ctx)
    _channel_problems(opt, ctx)
    if train_set:
        check_loader_keys(train_set, ctx)
    logger = opt.get("logger") or {}
    if (logger.get("wandb") or {}).get("project") and not logger.get("use_tb_logger"):
        ctx.problem(("logger", "wandb", "project"), f"{logger['wandb']['project']!r} needs logger.use_tb_logger: true "
                    "(Weights & Biases mirrors the TensorBoard log, as in BasicSR)")
    for key, spec in ((opt["val"] or {}).get("metrics") or {}).items():
        own = METRICS.attribute(spec["type"], "better", "higher")
        if spec.get("better") not in (None, own):
            ctx.warn(("val", "metrics", key, "better"), f"{spec['better']}, but {spec['type']} is {own}-is-better: "
                     "net_g_best will keep the generator this metric scores worst")
    _best_metric_problem(opt["val"], ctx)
    val_sets = [k for k in datasets if k != "train"]
    if opt["val"] is None:
        for key in val_sets:
            ctx.warn(("datasets", key), "there is no 'val' section (val_freq, metrics), so this set is not used")
    elif not val_sets:
        ctx.warn(("val",), "there is no validation set (datasets.val), so validation is skipped")


def _best_metric_problem(val, ctx):
    """val.best_metric names one of the validation metrics (else net_g_best would never be written)."""
    best = (val or {}).get("best_metric")
    choices = list(val.get("metrics") or DEFAULT_METRICS) if val else []
    if best is not None and best not in choices:
        ctx.problem(("val", "best_metric"), f"{best!r} is not one of the validation metrics "
                    f"({', '.join(choices)}{'' if val.get('metrics') else ': the default, val.metrics is not set'})"
                    f"{did_you_mean(best, choices)}")


def _moa_problems(train, ctx):
    """train.moa_augs names batch augmentations; train.moa_probs gives each one a probability, summing to 1."""
    augs, probs = train["moa_augs"], train["moa_probs"]
    unknown = [name for name in augs if name not in MOA_AUGS]
    if unknown:
        ctx.problem(("train", "moa_augs"), f"{unknown[0]!r} is not a batch augmentation (one of "
                    f"{', '.join(MOA_AUGS)}){did_you_mean(unknown[0], MOA_AUGS)}")
    if len(probs) != len(augs):
        ctx.problem(("train", "moa_probs"), f"{len(probs)} probabilities for the {len(augs)} augmentations of "
                    f"train.moa_augs ({', '.join(augs)}): give one each")
    elif abs(sum(probs) - 1) > 1e-6:
        ctx.problem(("train", "moa_probs"), f"{probs} sums to {sum(probs):g}; the probabilities must sum to 1")


def _channel_problems(opt, ctx):
    """Networks take and give RGB or grey images, and a discriminator judges what the generator gives."""
    for key, count in zip(("num_in_ch", "num_out_ch"), network_channels(opt["network_g"])):
        if count not in CHANNEL_COUNTS:
            ctx.problem(("network_g", key), f"{count}: images are RGB (3) or grey (1)")
    net_d = opt.get("network_d")
    out = network_channels(opt["network_g"])[1]
    if net_d is not None and net_d.get("num_in_ch", 3) != out:
        ctx.problem(("network_d", "num_in_ch"), f"{net_d.get('num_in_ch', 3)}, but network_g gives images of {out} "
                    f"channel(s) (network_g.num_out_ch): set network_d.num_in_ch: {out}")


def _schedule_free_problems(train, ctx):
    """A schedule-free optimiser averages its iterates instead of following a learning-rate schedule: a
    scheduler on it would fight the averaging."""
    for key, spec in train.items():
        if not (key.startswith("optim_") and isinstance(spec, dict) and isinstance(spec.get("type"), str)
                and spec["type"] in OPTIMIZERS and OPTIMIZERS.is_subclass(spec["type"], "ScheduleFreeOptimizer")):
            continue
        own = f"scheduler_{key[len('optim_'):]}"  # D's own schedule, else train.scheduler
        schedule = own if train.get(own) else "scheduler"
        if train.get(schedule):
            ctx.problem(("train", schedule), f"{train[schedule]['type']} would fight {spec['type']} "
                        f"(train.{key}), which needs no learning-rate schedule: remove train.{schedule} "
                        f"(warm-up: train.{key}.warmup_steps)")


def _join(root, value):
    return os.path.normpath(os.path.join(root, os.path.expanduser(value)))


def _derive(opt, ctx, root, is_train):
    opt["is_train"] = is_train
    if opt["manual_seed"] is None:
        # Drawn once and saved with the run, so the run can be repeated (BasicSR does the same).
        opt["manual_seed"] = random.randint(1, 10000)
    for key, dataset in opt["datasets"].items():
        dataset["phase"] = "train" if key == "train" else "val"
        dataset["scale"] = opt["scale"]
        for name, value in dataset.items():
            if name.startswith("dataroot") and isinstance(value, str):
                dataset[name] = _join(root, value)
            elif name.startswith("dataroot") and isinstance(value, list):
                dataset[name] = [_join(root, v) for v in value]
    paths = opt["path"]
    for name, value in paths.items():
        if (name.startswith("pretrain_network") or name == "resume_state") and isinstance(value, str):
            paths[name] = _join(root, value)
    if is_train:
        paths.update(run_paths(os.path.join(root, "experiments", opt["name"])))
    else:
        run = os.path.join(root, "results", opt["name"])
        paths.update(results_root=run, log=run, visualization=os.path.join(run, "visualization"))
    # Keys srgan_kit writes (a saved run's options hold them): recomputed; one warning lists any that differ.
    stale = [dotted(keys) for keys, given in ctx.derived_given.items() if _get(opt, keys) != given]
    if stale:
        ctx.warn((), f"{', '.join(stale)}: set by srgan_kit from name, scale and the run folder; "
                     "the values in the file are replaced")


_MISSING = object()


def _get(opt, keys):
    for key in keys:
        opt = opt.get(key, _MISSING) if isinstance(opt, dict) else _MISSING
    return opt


def _check_paths(opt, ctx):
    for key, dataset in opt["datasets"].items():
        for name, value in dataset.items():
            if not name.startswith("dataroot"):
                continue
            for i, folder in enumerate([value] if isinstance(value, str) else value or []):
                if not os.path.isdir(folder):
                    what = "is not a folder" if os.path.exists(folder) else "does not exist"
                    where = ("datasets", key, name) if isinstance(value, str) else ("datasets", key, name, i)
                    ctx.problem(where, f"data folder {folder} {what}")
    for name, value in opt["path"].items():
        if (name.startswith("pretrain_network") or name == "resume_state") and isinstance(value, str):
            if not os.path.isfile(value):
                what = "is not a file" if os.path.exists(value) else "does not exist"
                ctx.problem(("path", name), f"file {value} {what}")


# ---------------------------------------------------------------------------------------------------
# Using and saving resolved options.


def constructor_spec(spec, registry):
    """The part of a validated ``{type: ...}`` entry its registered class takes: 'type' plus constructor
    parameters. Drops loader / bookkeeping keys (batch_size_per_gpu, num_worker_per_gpu, a metric's
    ``better``), so ``registry.build(constructor_spec(spec, registry), **extra)`` works."""
    args = registry.arguments(spec["type"])
    return {k: v for k, v in spec.items() if k == "type" or k in args}


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also writes tuples (as lists), in case a caller put one into the options."""


_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def public_options(opt):
    """The resolved options without srgan_kit's own bookkeeping (keys starting with '_')."""
    return {k: v for k, v in opt.items() if not str(k).startswith("_")}


def given_options(opt):
    """The resolved options less the keys at their schema defaults (see engine.without_defaults)."""
    return engine.without_defaults(MODEL_TYPES.get(opt["model_type"]).schema(True), public_options(opt))


def save_options(opt, path):
    """Write the resolved options as YAML (keys starting with '_' left out); atomic. Returns the Path."""
    data = public_options(opt)
    return write_text_atomic(path, yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                                             default_flow_style=None))

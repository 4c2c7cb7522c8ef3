"""Loss-weighting sweeps: train variants of one option file from the same start, score them all the same way.

Every variant of a sweep file (srgan_kit.sweeps.spec) becomes ``<base name>_<variant>``; its options are the
base file plus ``--set`` overrides (base_set, seed, start, the variant's own keys, in that order), all validated
before anything trains. Runs go to ``OUT/experiments/<name>`` and results to ``OUT/variants/<variant>.json``:
written atomically once the variant is evaluated, keyed by a hash of its resolved options and start weights
(``train_key``) and of the evaluation set-up (``eval_key``). A re-run skips variants whose keys match,
re-scores a trained variant when only the evaluation changed, and trains again when a setting changed or the
variant failed. Records keep the precision and machine each run trained in; ``train.amp: auto`` trains in the
precision of the runs already recorded (``keep_precision``), so that a sweep continued on another machine compares
like with like. A variant that raises is recorded as ``failed: <reason>`` and the others still run. With
``interpolate`` in the sweep file, the start weights and each trained variant are blended (ESRGAN's network
interpolation) at every alpha into ``OUT/interpolated/<variant>@<alpha>.pth``, scored like the references.
Tables and the plot: srgan_kit.sweeps.report.
"""
import hashlib
import json
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from srgan_kit.archs.interpolation import check_same_architecture, interpolate
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.config.options import given_options, load_options, parse_override, read_yaml
from srgan_kit.device import cpu_description, precision_name, resolve_device
from srgan_kit.errors import DataError, OptionError
from srgan_kit.eval.conventions import TRADEOFF_METRICS, metric_plan
from srgan_kit.eval.harness import bicubic_upscaler, evaluate_model, model_upscaler
from srgan_kit.eval.sets import datasets_from_options, resolve_datasets
from srgan_kit.fileio import atomic_open, write_json
from srgan_kit.sweeps.spec import SweepSpec, Variant, load_sweep, override_text
from srgan_kit.training.checkpoint import final_generator
from srgan_kit.training.runtime import Runtime
from srgan_kit.run_folder import RUN_KEYS, run_paths


# ---------------------------------------------------------------------------------------------------
# Planning: every variant's resolved options, validated before any training.


@dataclass
class PlannedVariant:
    variant: Variant
    opt: dict  # resolved options, run folders under OUT/experiments
    train_key: str
    overrides: list  # the --set texts that made opt


def file_digest(path, _cache={}):  # noqa: B006  (one digest per file and modification time per process)
    """sha256 of a file's bytes (start weights are part of what a variant's result depends on)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _cache[key] = digest.hexdigest()
    return _cache[key]


def _hash(data):
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def train_key(opt):
    """Hash of what a trained variant depends on: its resolved options that differ from the schema defaults
    (without its run folders; a new key at a neutral default keeps old records valid) and the bytes of any
    weights it starts from."""
    data = given_options(opt)
    data["path"] = {k: v for k, v in data.get("path", {}).items() if k not in RUN_KEYS}
    weights = {k: file_digest(v) for k, v in opt["path"].items()
               if k.startswith("pretrain_network") and isinstance(v, str) and os.path.isfile(v)}
    return _hash({"options": data, "weights": weights})


def relocate_runs(opt, experiments_dir):
    """Point a resolved training run's folders at experiments_dir/<name> (instead of <root>/experiments)."""
    opt["path"].update(run_paths(Path(experiments_dir) / opt["name"]))
    return opt


def common_overrides(spec, base_path, extra=()):
    """--set texts every variant (and the start reference) gets: base_set, seed, start, then extra."""
    texts = [f"{k}={override_text(v)}" for k, v in spec.base_set.items()]
    seed = spec.seed
    if seed is None:
        given = read_yaml(base_path).get("manual_seed") is not None or any(
            parse_override(t)[0] == ["manual_seed"] for t in [*texts, *extra])
        seed = None if given else 0  # an unseeded base would draw a different seed for every variant
    if seed is not None:
        texts.append(f"manual_seed={seed}")
    if spec.start is not None:
        texts.append(f"path.pretrain_network_g={spec.start}")
    return texts + list(extra)


def _load(spec, base_path, overrides, what, root, check_paths):
    try:
        return load_options(base_path, overrides=overrides, root=root, check_paths=check_paths)
    except OptionError as err:
        raise OptionError(f"{spec.file}: {what}: {err}") from None


def plan_sweep(spec, base_path, out_dir, extra_overrides=(), root=None, check_paths=True):
    """Resolve and validate every variant's options (OptionError naming the sweep file, the variant and the
    key before anything trains). Validation during training is turned off: the sweep scores each variant
    itself, on the same data for all. root: what relative paths in the options hang from (default cwd);
    check_paths=False skips checking that data folders and weights exist. Returns (reference options,
    [PlannedVariant])."""
    common = common_overrides(spec, base_path, extra_overrides)
    reference = _load(spec, base_path, common, "base options", root, check_paths)
    base_name = reference["name"]
    planned = []
    for variant in spec.variants:
        texts = common + [f"{k}={override_text(v)}" for k, v in variant.settings.items()]
        texts.append(f"name={base_name}_{variant.name}")
        opt = _load(spec, base_path, texts, f"variant {variant.name!r}", root, check_paths)
        relocate_runs(opt, Path(out_dir) / "experiments")
        opt["val"] = None
        planned.append(PlannedVariant(variant, opt, train_key(opt), texts))
    return reference, planned


# ---------------------------------------------------------------------------------------------------
# Evaluation set-up.


def resolve_eval_datasets(names, opt, data_root="datasets"):
    """--datasets names -> [DatasetSpec]. 'val' stands for the option file's validation sets (datasets.val*);
    other names are benchmark sets under data_root (<Name>/X<scale>/{LR,HR})."""
    specs, bench = [], [n for n in names if n != "val"]
    if "val" in names:
        own = datasets_from_options(opt)
        if not own:
            raise DataError(f"{opt.get('_file')}: --datasets val: the option file has no validation set "
                            f"(datasets.val); name benchmark sets instead, e.g. --datasets Set5,Set14")
        specs.extend(own)
    if bench:
        specs.extend(resolve_datasets(bench, opt["scale"], root=data_root))
    names_seen = [s.name for s in specs]
    if len(set(names_seen)) != len(names_seen):
        raise DataError(f"--datasets: a dataset is named twice ({', '.join(names_seen)})")
    return specs


def check_metrics(names):
    """Metric names as the evaluation keys them (the shortest registered alias: psnr, stlpips, ...)."""
    return [m.key for m in metric_plan(names, scale=1, where="--metrics")]


@dataclass
class Evaluation:
    datasets: list  # [DatasetSpec]
    metrics: list
    scale: int
    crop_border: int | None = None
    device: str = "cpu"
    tile: int = 0
    key: str = ""

    def __post_init__(self):
        sets = [[s.name, str(s.lr_dir), str(s.gt_dir), s.lr_tmpl] for s in self.datasets]
        self.key = _hash({"datasets": sets, "metrics": self.metrics, "scale": self.scale,
                          "crop_border": self.crop_border})

    def run(self, upscale_fn):
        return evaluate_model(upscale_fn, self.datasets, self.scale, metrics=tuple(self.metrics),
                              crop_border=self.crop_border)

    def upscaler(self, opt, weights, param_key):
        """upscale_fn of opt's network_g with the given weights file and key, on this evaluation's device."""
        return model_upscaler(str(weights), opt, tile=self.tile, device=self.device, param_key=param_key)[0]


# ---------------------------------------------------------------------------------------------------
# Running.


def read_record(path):
    """A variant's or reference's JSON, or None when missing / unreadable (then it is simply redone)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def one_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _failed(record, exc, log, label):
    record.update(status=f"failed: {one_line(exc)}", error=traceback.format_exc())
    log(f"{label}: FAILED: {one_line(exc)}")


def _summary(results, metrics):
    parts = []
    for name, data in (results or {}).get("datasets", {}).items():
        means = data.get("mean", {})
        values = ", ".join(f"{m} {means[m]:.4g}" for m in metrics
                           if isinstance(means.get(m), (int, float)) and math.isfinite(means[m]))
        parts.append(f"{name}: {values}")
    return "; ".join(parts)


def training_conditions(opt):
    """What a run trains under beyond its options: the precision its train.amp resolves to here, and the machine."""
    runtime = Runtime.from_options(opt)  # the device and precision the trainer will resolve
    device = runtime.device
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_description()
    return {"precision": precision_name(runtime.amp_dtype), "machine": machine}


def keep_precision(opt, precision):
    """opt with train.amp 'auto' replaced by precision (what the runs recorded beside it trained in): auto means
    bf16 on some machines and fp32 on others, and runs compared with each other must train alike."""
    if precision and opt["train"].get("amp") == "auto":
        return {**opt, "train": {**opt["train"], "amp": precision}}
    return opt


def timed_training(record, record_path, opt, train, spent=0.0):
    """Run train() while record_path says 'training' (an interrupted run resumes next time); record gets the
    training conditions and train_time_s: spent (the interrupted part's time) plus this run's, written there too
    when training stops part-way, so that the resumed run adds to it."""
    record.update(training_conditions(opt))
    write_json(record_path, {**record, "status": "training", "train_time_s": spent})
    t0 = time.perf_counter()
    try:
        train()
    except BaseException:
        write_json(record_path, {**record, "status": "training",
                                 "train_time_s": round(spent + time.perf_counter() - t0, 3)})
        raise
    record["train_time_s"] = round(spent + time.perf_counter() - t0, 3)


def run_variant(plan, evaluation, record_path, train_fn, progress, log, precision=None):
    """Train (unless a matching trained run is recorded) and evaluate one variant; returns its record.
    precision: what train.amp 'auto' trains in (keep_precision)."""
    opt, name = keep_precision(plan.opt, precision), plan.variant.name
    weights, param_key = final_generator(opt)
    old = read_record(record_path)
    same_run = bool(old and old.get("status") == "ok" and old.get("train_key") == plan.train_key)
    resume = bool(old and old.get("status") == "training" and old.get("train_key") == plan.train_key)
    if same_run and old.get("eval_key") == evaluation.key:
        log(f"{name}: already done ({record_path}), skipped")
        return old
    record = {"variant": name, "experiment": opt["name"], "settings": {k: override_text(v) for k, v in
              plan.variant.settings.items()}, "train_key": plan.train_key, "eval_key": evaluation.key,
              "total_iter": int(opt["train"]["total_iter"]), "seed": opt.get("manual_seed"),
              "status": "ok", "train_time_s": None, "checkpoint": str(weights), "results": None}
    try:
        if same_run and weights.is_file():
            log(f"{name}: trained before; scoring again (the evaluation changed)")
            record.update({k: old[k] for k in ("train_time_s", "precision", "machine") if k in old})
        else:
            log(f"{name}: {'resuming' if resume else 'training'} {opt['name']} for {opt['train']['total_iter']} "
                "iterations")
            spent = float(old.get("train_time_s") or 0) if resume else 0.0
            timed_training(record, record_path, opt, lambda: train_fn(opt, auto_resume=resume, progress=progress),
                           spent)
        record["results"] = evaluation.run(evaluation.upscaler(opt, weights, param_key))
        log(f"{name}: {_summary(record['results'], evaluation.metrics)}")
    except Exception as exc:  # noqa: BLE001  (one broken variant must not stop the sweep)
        _failed(record, exc, log, name)
    write_json(record_path, record)
    return record


def run_reference(name, make_upscaler, key, evaluation, record_path, log, extra=None):
    """Score a reference method (bicubic, the start model) once per evaluation set-up."""
    old = read_record(record_path)
    if old and old.get("status") == "ok" and old.get("eval_key") == key:
        return old
    record = {"variant": name, "reference": True, "eval_key": key, "status": "ok", "results": None, **(extra or {})}
    try:
        record["results"] = evaluation.run(make_upscaler())
        log(f"{name} (reference): {_summary(record['results'], evaluation.metrics)}")
    except Exception as exc:  # noqa: BLE001  (a reference row failing still leaves the variants to run)
        _failed(record, exc, log, f"{name} (reference)")
    write_json(record_path, record)
    return record


@dataclass
class SweepResult:
    out_dir: Path
    references: list  # records of bicubic and the start model
    records: list  # one per variant, in sweep order
    columns: list  # swept option keys
    failed: list  # names of failed variants (and 'start (reference)' ... when a reference row failed)
    points: dict = field(default_factory=dict)  # what tradeoff.png shows: {dataset: [(label, x, y, kind)]}
    files: dict = field(default_factory=dict)
    interpolated: list = field(default_factory=list)  # records of the interpolated generators


@dataclass
class PreparedSweep:
    spec: SweepSpec
    base_path: str
    out_dir: Path
    reference_opt: dict  # the base options with the common overrides (what the start reference uses)
    plans: list  # [PlannedVariant]
    evaluation: Evaluation
    common: list  # --set texts every variant gets

    def record_path(self, name):
        return self.out_dir / "variants" / f"{name}.json"

    def is_interrupted(self, plan):
        """Whether the variant's training was stopped part-way (the sweep resumes it)."""
        old = read_record(self.record_path(plan.variant.name))
        return bool(old and old.get("status") == "training" and old.get("train_key") == plan.train_key)

    def is_done(self, plan):
        old = read_record(self.record_path(plan.variant.name))
        return bool(old and old.get("status") == "ok" and old.get("train_key") == plan.train_key
                    and old.get("eval_key") == self.evaluation.key)


def prepare_sweep(sweep_path, base_path=None, out_dir=None, datasets=None, data_root="datasets", metrics=None,
                  overrides=(), device=None, tile=0, root=None, check_paths=True):
    """Everything checked before training: the sweep file, every variant's options, the evaluation data
    and metrics. UserError on the first problem. check_paths=False: data folders and weights files may
    still be missing (they are made before the sweep runs)."""
    spec = load_sweep(sweep_path)
    base_path = base_path or spec.base
    if not base_path:
        raise OptionError(f"{sweep_path}: no base option file: pass -opt BASE.yml or add 'base:' to the sweep")
    out_dir = Path(out_dir or Path("results") / "sweeps" / Path(sweep_path).stem)
    reference_opt, plans = plan_sweep(spec, base_path, out_dir, overrides, root=root, check_paths=check_paths)
    if spec.interpolate and not reference_opt["path"].get("pretrain_network_g"):
        raise OptionError(f"{sweep_path}: interpolate: blends the start weights with each variant; give 'start:' "
                          "(or path.pretrain_network_g in the base options)")
    eval_sets = resolve_eval_datasets(datasets or spec.datasets or ["val"], reference_opt, data_root)
    metric_names = check_metrics(metrics or spec.metrics or TRADEOFF_METRICS)
    if device is None:
        device = str(resolve_device(num_gpu=reference_opt["num_gpu"]))
    evaluation = Evaluation(eval_sets, metric_names, reference_opt["scale"], device=device, tile=tile)
    return PreparedSweep(spec, str(base_path), out_dir, reference_opt, plans, evaluation,
                         common_overrides(spec, base_path, overrides))


def recorded_precision(prep):
    """The precision this sweep's recorded runs (finished or interrupted, of their current options) trained in."""
    for plan in prep.plans:
        old = read_record(prep.record_path(plan.variant.name)) or {}
        if old.get("train_key") == plan.train_key and old.get("status") in ("ok", "training") and "precision" in old:
            return old["precision"]
    return None


def run_prepared(prep, progress=True, train_fn=None, log=print, precision=None):
    """Score the references, train + score each variant not done yet, write the tables and the plot.
    precision: what train.amp 'auto' trains in (default: what the runs recorded here trained in, else this
    machine's choice)."""
    from srgan_kit.sweeps import report as sweep_report  # matplotlib only when a sweep really runs
    from srgan_kit.training.trainer import train

    train_fn = train_fn or train
    evaluation, out_dir, reference_opt = prep.evaluation, prep.out_dir, prep.reference_opt
    log(f"sweep {prep.spec.file}: {len(prep.plans)} variants of {prep.base_path} -> {out_dir}; scored on "
        f"{', '.join(s.name for s in evaluation.datasets)} with {', '.join(evaluation.metrics)}")
    scale = reference_opt["scale"]
    references = [run_reference("bicubic", lambda: bicubic_upscaler(scale), evaluation.key, evaluation,
                                out_dir / "references" / "bicubic.json", log)]
    start = reference_opt["path"].get("pretrain_network_g")
    if start:
        param_key = reference_opt["path"].get("param_key_g") or "params"
        key = _hash([evaluation.key, file_digest(start), reference_opt["network_g"], param_key])
        references.append(run_reference(
            "start", lambda: evaluation.upscaler(reference_opt, start, param_key),
            key, evaluation, out_dir / "references" / "start.json", log, {"checkpoint": start}))

    precision = precision or recorded_precision(prep)
    here = training_conditions(reference_opt)["precision"]
    if precision and precision != here and reference_opt["train"].get("amp") == "auto":
        log(f"train.amp auto: {precision}, as the runs recorded for this comparison trained (here: {here})")
    records = []
    for i, plan in enumerate(prep.plans, 1):
        log(f"[{i}/{len(prep.plans)}] {plan.variant.name}")
        records.append(run_variant(plan, evaluation, prep.record_path(plan.variant.name), train_fn, progress, log,
                                   precision))

    interpolated = run_interpolations(prep, start, records, log) if prep.spec.interpolate else []
    columns = list(dict.fromkeys(k for p in prep.plans for k in p.variant.settings))
    failed = [f"{r['variant']} (reference)" for r in references if r["status"] != "ok"]
    result = SweepResult(out_dir, references, records, columns,
                         failed=failed + [r["variant"] for r in records + interpolated if r["status"] != "ok"],
                         interpolated=interpolated)
    context = {"sweep": prep.spec.file, "description": prep.spec.description, "base": prep.base_path,
               "start": start, "base_set": prep.common, "resolved": {p.variant.name: p.opt for p in prep.plans}}
    result.files, result.points = sweep_report.write_reports(result, evaluation, context)
    return result


def run_interpolations(prep, start, records, log):
    """Blend the start weights with each chosen, finished variant at every alpha and score the blends."""
    chosen = prep.spec.interpolate.get("variants") or [p.variant.name for p in prep.plans]
    start_key = prep.reference_opt["path"].get("param_key_g") or "params"
    done = []
    for plan, record in zip(prep.plans, records):
        if plan.variant.name not in chosen or record["status"] != "ok":
            continue
        weights, param_key = final_generator(plan.opt)
        for alpha in prep.spec.interpolate["alpha"]:
            name = f"{plan.variant.name}@{alpha:g}"
            path = prep.out_dir / "interpolated" / f"{name}.pth"
            if not Path(weights).is_file():  # its run folder was deleted after it was scored
                status = (f"failed: the variant's weights {weights} are gone; remove "
                          f"{prep.record_path(plan.variant.name)} to train it again")
                log(f"{name}: {status}")
                done.append({"variant": name, "reference": True, "status": status, "results": None,
                             "interpolated": {"variant": plan.variant.name, "alpha": alpha}})
                continue

            def make_upscaler(path=path, alpha=alpha, weights=weights, param_key=param_key):
                a, b = load_state_dict_file(start, start_key), load_state_dict_file(weights, param_key)
                check_same_architecture(a, b, f"start {start}", f"variant {plan.variant.name} ({weights})")
                with atomic_open(path, fsync=True) as handle:
                    torch.save({"params": interpolate(a, b, alpha)}, handle)
                return prep.evaluation.upscaler(prep.reference_opt, path, "params")

            key = _hash([prep.evaluation.key, file_digest(start), file_digest(weights), alpha])
            done.append(run_reference(name, make_upscaler, key, prep.evaluation, path.with_suffix(".json"), log,
                                      {"interpolated": {"variant": plan.variant.name, "alpha": alpha},
                                       "checkpoint": str(path)}))
    return done


def run_sweep(sweep_path, progress=True, train_fn=None, log=print, **setup):
    """The whole tool: prepare_sweep(sweep_path, **setup) (all checks), then run_prepared. Returns a SweepResult."""
    return run_prepared(prepare_sweep(sweep_path, **setup), progress=progress, train_fn=train_fn, log=log)

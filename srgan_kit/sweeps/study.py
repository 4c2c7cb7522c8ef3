"""A loss study: one PSNR-trained start, several sweeps that fine-tune it, one report.

``prepare_study`` checks everything first (the start's options and data, every sweep file and variant, the
evaluation sets and metrics, that every sweep starts from the study's start). ``run_study`` trains the start
(skipped when a finished start with the same options is recorded in ``OUT/start.json``; an interrupted one
resumes), measures how far it had converged (its PSNR over the last quarter of its training), runs each sweep
into ``OUT/<sweep stem>/`` (srgan_kit.sweeps.runner: finished variants are kept), and writes the report
(srgan_kit.sweeps.study_report): one markdown file with every sweep's table, a combined trade-off plot and a
comparison sheet.
"""
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from srgan_kit.config.options import load_options
from srgan_kit.errors import OptionError
from srgan_kit.fileio import write_json
from srgan_kit.sweeps.runner import (keep_precision, prepare_sweep, read_record, run_prepared, timed_training,
                                     train_key)
from srgan_kit.training.checkpoint import final_generator, network_path, param_key_in

CONVERGED_DB = 0.05  # a start whose PSNR moves less than this over its last quarter counts as converged


@dataclass
class PreparedStudy:
    start_path: str
    start_opt: dict
    sweep_paths: list
    out_dir: Path
    setup: dict  # prepare_sweep's keyword arguments shared by every sweep
    sweeps: list = field(default_factory=list)  # [PreparedSweep], checked without the start's weights

    @property
    def start_weights(self):
        return final_generator(self.start_opt)[0]

    def sweep_dir(self, sweep_path):
        return self.out_dir / Path(sweep_path).stem


def _same_file(a, b):
    return Path(a).resolve() == Path(b).resolve()


def prepare_study(start_path, sweep_paths, out_dir="results/loss_study", root=None, **setup):
    """Check the whole study before anything trains; OptionError / DataError on the first problem. root: what
    relative paths in the option files hang from (default: the working folder); setup: prepare_sweep's
    datasets, data_root, metrics, device, tile."""
    if not sweep_paths:
        raise OptionError("--sweeps: name at least one sweep file")
    stems = [Path(p).stem for p in sweep_paths]
    if len(set(stems)) != len(stems):
        raise OptionError(f"--sweeps: two sweep files share a name ({', '.join(stems)}); their results would mix")
    start_opt = load_options(start_path, root=root)
    study = PreparedStudy(str(start_path), start_opt, list(sweep_paths), Path(out_dir), {**setup, "root": root})
    for path in sweep_paths:
        # The start's weights do not exist before the study trains them: paths are checked again later.
        prep = prepare_sweep(path, out_dir=study.sweep_dir(path), check_paths=False, **study.setup)
        start = prep.reference_opt["path"].get("pretrain_network_g")
        if not start or not _same_file(start, study.start_weights):
            raise OptionError(f"{path}: start: {start or 'none'} is not what {start_path} trains "
                              f"({study.start_weights}); a study compares fine-tunings of one start")
        study.sweeps.append(prep)
    return study


def train_start(study, progress=True, log=print, train_fn=None):
    """Train the study's start unless OUT/start.json records a finished run of the same options."""
    from srgan_kit.training.trainer import train

    opt, record_path = study.start_opt, study.out_dir / "start.json"
    key, weights = train_key(opt), study.start_weights
    old = read_record(record_path) or {}
    if old.get("train_key") == key and old.get("status") == "ok" and weights.is_file():
        log(f"start: {opt['name']} already trained ({weights}), kept")
        return old
    resume = old.get("train_key") == key and old.get("status") == "training"
    spent = float(old.get("train_time_s", 0)) if resume else 0.0  # the time of the interrupted part
    record = {"options": study.start_path, "experiment": opt["name"], "train_key": key, "status": "training",
              "total_iter": int(opt["train"]["total_iter"]), "checkpoint": str(weights), "train_time_s": spent}
    log(f"start: {'resuming' if resume else 'training'} {opt['name']} for {record['total_iter']} iterations")
    opt = keep_precision(opt, old.get("precision") if resume else None)
    timed_training(record, record_path, opt, lambda: (train_fn or train)(opt, auto_resume=resume, progress=progress),
                   spent)
    record.update(status="ok", resumed=resume)
    write_json(record_path, record)
    return record


def quarter_checkpoint(opt):
    """The last saved iteration at or before three quarters of the run (checkpoints every save_checkpoint_freq),
    or None when the run saves none there."""
    total, every = int(opt["train"]["total_iter"]), int(opt["logger"]["save_checkpoint_freq"])
    iteration = (total * 3 // 4) // every * every
    return iteration if iteration > 0 else None


def start_convergence(study, evaluation, record, log=print):
    """The start's PSNR on the first evaluation set at :func:`quarter_checkpoint` and at its end (EMA weights
    when it keeps an EMA), stored in ``record['convergence']``; measured once per start and evaluation."""
    opt = study.start_opt
    psnr_only = dataclasses.replace(evaluation, datasets=evaluation.datasets[:1], metrics=["psnr"])
    old = record.get("convergence") or {}
    if old.get("eval_key") == psnr_only.key and old.get("train_key") == record.get("train_key"):
        return old
    quarter = quarter_checkpoint(opt)
    final, param_key = final_generator(opt)
    key = "params_ema" if opt["train"]["ema_decay"] > 0 else "params"
    out = {"eval_key": psnr_only.key, "train_key": record.get("train_key"), "dataset": evaluation.datasets[0].name,
           "from_iter": quarter, "to_iter": int(opt["train"]["total_iter"]), "psnr_from": None, "psnr_to": None}
    dataset = out["dataset"]
    for iteration, weights, field_name in ((quarter, None, "psnr_from"), (out["to_iter"], final, "psnr_to")):
        weights = weights or (network_path(opt["path"]["models"], "net_g", iteration, opt["logger"]["save_format"],
                                           key) if iteration else None)
        if weights is None or not weights.is_file():
            continue
        results = psnr_only.run(psnr_only.upscaler(opt, weights, param_key_in(opt["logger"]["save_format"], key)))
        out[field_name] = results["datasets"][dataset]["mean"].get("psnr")
    if out["psnr_from"] is not None and out["psnr_to"] is not None:
        log(f"start: PSNR on {dataset} {out['psnr_from']:.2f} dB at iteration {quarter}, {out['psnr_to']:.2f} dB at "
            f"{out['to_iter']}")
    record["convergence"] = out
    write_json(study.out_dir / "start.json", record)
    return out


def run_study(study, progress=True, log=print, train_fn=None):
    """Train the start, measure its convergence, run every sweep (checked again now that the start exists);
    returns (start record, [(PreparedSweep, SweepResult)])."""
    start = train_start(study, progress, log, train_fn)
    runs = []
    for path in study.sweep_paths:
        prep = prepare_sweep(path, out_dir=study.sweep_dir(path), **study.setup)
        if not runs:
            start_convergence(study, prep.evaluation, start, log)
        runs.append((prep, run_prepared(prep, progress=progress, log=log, train_fn=train_fn,
                                        precision=start.get("precision"))))
    return start, runs

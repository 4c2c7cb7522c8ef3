"""The loss study's report: one markdown page (every sweep's table with the change against the start, each
sweep's trade-off plot, a comparison sheet, and what the numbers say, computed from them) plus its pictures in
a folder beside it.

The findings are statements about the numbers in the tables (which way PSNR and ST-LPIPS move along a swept
weight, what the relativistic switch changes per GAN loss, where WGAN-GP ranks), so they stay true for whatever
run wrote the page.
"""
import math
import os
import platform
import shutil
from pathlib import Path

import torch

from srgan_kit.eval.compare import image_rows, write_sheet
from srgan_kit.eval.conventions import better, format_value, metric_label
from srgan_kit.eval.harness import bicubic_upscaler
from srgan_kit.device import cpu_description
from srgan_kit.fileio import write_text_atomic
from srgan_kit.losses.adversarial import GP_TYPES
from srgan_kit.sweeps import report as sweep_report
from srgan_kit.sweeps.spec import override_text
from srgan_kit.training.checkpoint import final_generator

ARROWS = {"higher": "↑", "lower": "↓"}
DISTORTION, PERCEPTION = "psnr", "stlpips"  # the axes the findings speak of


def machine_line():
    cpu = cpu_description()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs, {gpu}; torch {torch.__version__}, Python {platform.python_version()}"


def _rows(prep, result):
    return sweep_report.rows(result, prep.evaluation, {"resolved": {p.variant.name: p.opt for p in prep.plans}})


def _value(rows, variant, dataset, metric):
    row = next((r for r in rows if r["variant"] == variant and r["dataset"] == dataset), None)
    value = None if row is None else row.get(metric)
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _delta(value, ref, metric):
    if value is None or ref is None:
        return "–"
    digits = 2 if metric == "psnr" else 4
    return f"{value - ref:+.{digits}f}"


def sweep_section(prep, result, rows, picture):
    """Markdown of one sweep: a table per dataset (references first), then its trade-off plot."""
    metrics, columns = prep.evaluation.metrics, result.columns
    head = ["method", *(c.split(".")[-1] for c in columns), *(f"{metric_label(m)} {ARROWS[better(m)]}"
                                                              for m in metrics)]
    deltas = [m for m in (DISTORTION, PERCEPTION) if m in metrics]
    head += [f"Δ{metric_label(m)} vs start" for m in deltas] + ["training"]
    lines = [f"## {prep.spec.description or Path(prep.spec.file).stem}", "",
             f"`{prep.spec.file}`: {len(prep.plans)} variants of `{prep.base_path}`{_base_set_text(prep)}.", ""]
    for spec in prep.evaluation.datasets:
        lines += [f"### {spec.name} (x{prep.evaluation.scale})", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join("---" for _ in head) + "|"]
        for row in (r for r in rows if r["dataset"] == spec.name):
            name = row["variant"] if row["kind"] == "variant" else f"*{row['variant']}*"
            cells = [name, *(override_text(row[c]) if row["kind"] == "variant" else "" for c in columns),
                     *(sweep_report.cell(m, row[m]) for m in metrics)]
            cells += [_delta(_value(rows, row["variant"], spec.name, m), _value(rows, "start", spec.name, m), m)
                      for m in deltas]
            cells.append(sweep_report.duration(row["train_time_s"]) if row["kind"] == "variant" else "")
            if row["status"] != "ok":
                cells[0] += f" ({row['status']})"
            lines.append("| " + " | ".join(sweep_report.escape(c) for c in cells) + " |")
        lines.append("")
    if picture:
        lines += [f"![{Path(prep.spec.file).stem} trade-off]({picture})", ""]
    return lines


def _base_set_text(prep):
    texts = [f"`{k}={override_text(v)}`" for k, v in prep.spec.base_set.items()]
    return f", each with {', '.join(texts)}" if texts else ""


def _ordered_values(prep, rows, key, dataset, metric):
    """[(setting, value)] along one swept key, in the sweep's order (variants that differ only in it)."""
    out = []
    for plan in prep.plans:
        if key in plan.variant.settings:
            out.append((plan.variant.settings[key], _value(rows, plan.variant.name, dataset, metric)))
    return out


# Differences below what the tables show are "no change", not a rise or a fall.
RESOLUTION = {"psnr": 0.005, "stlpips": 0.00005}


def _trend(pairs, metric):
    values = [v for _s, v in pairs]
    if len(values) < 2 or any(v is None for v in values):
        return None
    tol = RESOLUTION.get(metric, 0.0)
    steps = [0 if abs(b - a) < tol else b - a for a, b in zip(values, values[1:])]
    if all(s == 0 for s in steps):
        return "does not move"
    if all(s <= 0 for s in steps):
        return "falls at every step" if all(s < 0 for s in steps) else "never rises"
    if all(s >= 0 for s in steps):
        return "rises at every step" if all(s > 0 for s in steps) else "never falls"
    return "does not move monotonically"


def weight_findings(prep, rows, dataset):
    """For a sweep of one numeric key: how PSNR and ST-LPIPS move along it."""
    if len(prep.spec.variants) < 2 or not all(len(p.variant.settings) == 1 for p in prep.plans):
        return []
    key = next(iter(prep.plans[0].variant.settings))
    if not all(isinstance(p.variant.settings[key], (int, float)) for p in prep.plans):
        return []
    lines = []
    for metric in (m for m in (DISTORTION, PERCEPTION) if m in prep.evaluation.metrics):
        pairs = _ordered_values(prep, rows, key, dataset, metric)
        trend = _trend(pairs, metric)
        if trend is None:
            continue
        path = ", ".join(f"{override_text(s)}: {format_value(metric, v)}" for s, v in pairs)
        lines.append(f"- {dataset}, `{key}` from {override_text(pairs[0][0])} to {override_text(pairs[-1][0])}: "
                     f"{metric_label(metric)} {trend} ({path}; start "
                     f"{format_value(metric, _value(rows, 'start', dataset, metric))}).")
    return lines


def relativistic_findings(prep, rows, dataset):
    """For a gan_type x relativistic grid: what 'average' changes per loss, and where WGAN-GP ranks."""
    type_key, rel_key = "train.gan_opt.gan_type", "train.gan_opt.relativistic"
    plans = [p for p in prep.plans if set(p.variant.settings) == {type_key, rel_key}]
    if not plans:
        return []
    by = {(p.variant.settings[type_key], p.variant.settings[rel_key]): p.variant.name for p in plans}
    gp_names = {name for (gan_type, _mode), name in by.items() if gan_type in GP_TYPES}
    metrics = [m for m in (DISTORTION, PERCEPTION) if m in prep.evaluation.metrics]
    lines = []
    for gan_type in dict.fromkeys(t for t, _r in by):
        if (gan_type, "none") not in by:
            continue
        for mode in (r for t, r in by if t == gan_type and r != "none"):
            parts = []
            for metric in metrics:
                a = _value(rows, by[(gan_type, "none")], dataset, metric)
                b = _value(rows, by[(gan_type, mode)], dataset, metric)
                if a is not None and b is not None:
                    parts.append(f"{metric_label(metric)} {_delta(b, a, metric)}")
            if parts:
                lines.append(f"- {dataset}, {gan_type}: relativistic {mode} against none: {', '.join(parts)}.")
    for metric in metrics:
        ranked = sorted(((v, name) for name in by.values()
                         if (v := _value(rows, name, dataset, metric)) is not None),
                        reverse=better(metric) == "higher")
        wgan = [i for i, (_v, name) in enumerate(ranked, 1) if name in gp_names]
        if ranked and wgan:
            lines.append(f"- {dataset}: by {metric_label(metric)} the WGAN-GP variants rank "
                         f"{' and '.join(map(str, wgan))} of {len(ranked)} (best: {ranked[0][1]}, "
                         f"{format_value(metric, ranked[0][0])}).")
    return lines


def start_findings(tables, dataset):
    """When every variant scores above the start in PSNR, the fine-tuning also kept training the start."""
    changes = []
    for rows in tables:
        start = _value(rows, "start", dataset, DISTORTION)
        changes += [value - start for row in rows if row["kind"] == "variant" and row["dataset"] == dataset
                    and start is not None and (value := _value(rows, row["variant"], dataset, DISTORTION)) is not None]
    if not changes or min(changes) <= 0:
        return []
    return [f"- {dataset}: all {len(changes)} variants score above the start in PSNR ({min(changes):+.2f} to "
            f"{max(changes):+.2f} dB): the start had not converged and the fine-tuning's pixel term kept training "
            "it, so compare the variants with each other rather than with the start."]


def sheet(path, prep, result, dataset_spec):
    """Comparison sheet of one sweep on one dataset: LR | bicubic | start | each finished variant | GT."""
    evaluation, scale = prep.evaluation, prep.evaluation.scale
    refs = {r["variant"]: r for r in result.references if r["status"] == "ok"}
    upscalers, results = {}, {}
    if "bicubic" in refs:
        upscalers["bicubic"], results["bicubic"] = bicubic_upscaler(scale), refs["bicubic"]["results"]
    if "start" in refs:
        param_key = prep.reference_opt["path"].get("param_key_g") or "params"
        upscalers["start (PSNR)"] = evaluation.upscaler(prep.reference_opt, refs["start"]["checkpoint"], param_key)
        results["start (PSNR)"] = refs["start"]["results"]
    for plan, record in zip(prep.plans, result.records):
        if record["status"] == "ok":
            upscalers[plan.variant.name] = evaluation.upscaler(plan.opt, *final_generator(plan.opt))
            results[plan.variant.name] = record["results"]
    return write_sheet(path, [row for _stem, row in image_rows(dataset_spec, upscalers, results, scale)])


def write_study_report(doc_path, study, start_record, runs, command, wall_s):
    """Write doc_path (markdown) and its pictures in <doc stem>/ beside it; returns the written paths. wall_s: this
    invocation's time (a re-run that finds everything trained takes minutes; the recorded training times are
    reported apart)."""
    doc_path = Path(doc_path)
    assets = doc_path.with_suffix("")
    assets.mkdir(parents=True, exist_ok=True)
    start_opt = study.start_opt
    net = start_opt["network_g"]
    net_text = ", ".join(f"{k} {v}" for k, v in net.items() if k != "type")
    train_set = start_opt["datasets"]["train"]
    folders = train_set["dataroot_gt"] if isinstance(train_set["dataroot_gt"], list) else [train_set["dataroot_gt"]]
    first = runs[0][0]
    trained = [r.get("train_time_s") for _p, result in runs for r in result.records]
    trained_s = sum(t for t in [start_record.get("train_time_s"), *trained] if isinstance(t, (int, float)))
    lines = ["# Loss-weighting study", "",
             f"Written by `{command}` ({sweep_report.duration(wall_s)} wall time; the recorded training of the start "
             f"and the {len(trained)} variants took {sweep_report.duration(trained_s)}).", "",
             f"- machine: {machine_line()}",
             f"- start: `{study.start_path}`: {net['type']} ({net_text}) trained "
             f"{start_opt['train']['total_iter']} iterations with L1 on "
             f"{', '.join(Path(f).parent.name if Path(f).name == 'HR' else Path(f).name for f in folders)} "
             f"(LR: MATLAB bicubic x{start_opt['scale']}, GT crops {train_set['gt_size']}, batch "
             f"{train_set['batch_size_per_gpu']})"
             + (f", {sweep_report.duration(start_record.get('train_time_s'))}" if start_record.get("train_time_s")
                else "") + "; its EMA weights are the row *start*.",
             f"- variants: `{first.base_path}` ({first.reference_opt['train']['total_iter']} iterations, batch "
             f"{first.reference_opt['datasets']['train']['batch_size_per_gpu']}, GT crops "
             f"{first.reference_opt['datasets']['train']['gt_size']}) with one sweep's settings each, all from the "
             f"start, seed {first.reference_opt['manual_seed']}; scored by their final EMA weights.",
             f"- scores: {', '.join(metric_label(m) for m in first.evaluation.metrics)} on "
             f"{', '.join(s.name for s in first.evaluation.datasets)}; PSNR/SSIM on the Y channel with "
             f"{first.evaluation.scale} border pixels cropped; ↑ higher / ↓ lower is better; Δ against the start.",
             "- larger: the option files are sized for 2 CPU cores; on a GPU raise network_g (num_block 16, or "
             "RRDBNet), gt_size and total_iter in them, and add Set14 (`tools/prepare_datasets.py --hr Set14/HR "
             "--name Set14`, then `--datasets Set5,Set14`).", ""]
    findings, written, tables = [], [doc_path], []
    for prep, result in runs:
        rows = _rows(prep, result)
        tables.append(rows)
        picture = None
        plot = result.files.get("plot")
        if plot and Path(plot).is_file():
            target = assets / f"tradeoff_{Path(prep.spec.file).stem}.png"
            shutil.copyfile(plot, target)
            written.append(target)
            picture = f"{assets.name}/{target.name}"
        lines += sweep_section(prep, result, rows, picture)
        for spec in prep.evaluation.datasets:
            findings += weight_findings(prep, rows, spec.name) + relativistic_findings(prep, rows, spec.name)
    for spec in runs[0][0].evaluation.datasets:
        findings += start_findings(tables, spec.name)
    prep, result = runs[0]
    spec = prep.evaluation.datasets[0]
    target = sheet(assets / "comparison.png", prep, result, spec)
    written.append(target)
    lines += ["## Comparison sheet", "",
              f"{spec.name}, centre crops, variants of `{prep.spec.file}` between the references (scores of the "
              "whole image):", "", f"![comparison]({assets.name}/{target.name})", "",
              "## What the numbers say", "", *(findings or ["- (no sweep with a numeric or gan_type x relativistic "
                                                           "grid finished)"]), ""]
    write_text_atomic(doc_path, "\n".join(lines).rstrip() + "\n")
    return written

"""The loss study's report: one markdown page (every sweep's table with the change against the start, each
sweep's trade-off plot, a comparison sheet, and what the numbers say, computed from them) plus its pictures in
a folder beside it.

The findings are statements about the numbers in the tables (which way PSNR and the sweep's judge move along a
swept weight, what the relativistic switch changes per GAN loss, where WGAN-GP ranks), so they stay true for
whatever run wrote the page. Each sweep is judged by a perceptual metric none of its variants trains through
(srgan_kit.sweeps.judge), and a sweep of single loss terms gets a table of what each term buys against the base
recipe, with a recommended weight.
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
from srgan_kit.sweeps.judge import describe_networks, independent_metrics
from srgan_kit.sweeps.spec import override_text
from srgan_kit.training.checkpoint import final_generator

ARROWS = {"higher": "↑", "lower": "↓"}
DISTORTION = "psnr"  # the distortion axis the findings speak of; the perception axis is each sweep's judge
BASE_VARIANT = "base"  # in a sweep of single terms: the recipe without any added term
PSNR_BUDGET = 0.1  # dB a recommended term weight may cost against the base recipe


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


def judge(prep):
    """The metric a sweep is ranked by: the first of its metrics that no variant trains through, or None."""
    free = independent_metrics([p.opt for p in prep.plans], prep.evaluation.metrics)
    return free[0] if free else None


def judge_lines(prep, rows, dataset):
    """Which metric judges the sweep (and why it may), and the variants ranked by it."""
    opts, metrics = [p.opt for p in prep.plans], prep.evaluation.metrics
    free = independent_metrics(opts, metrics)
    trained = describe_networks(opts)
    if not free:
        return [f"No metric here is independent of the losses (the variants train through {trained}): add "
                "niqe or stlpips_alex to the sweep's metrics to judge it.", ""]
    main = free[0]
    ranked = sorted(((v, r["variant"]) for r in rows if r["kind"] == "variant" and r["dataset"] == dataset
                     and (v := _value(rows, r["variant"], dataset, main)) is not None),
                    reverse=better(main) == "higher")
    order = ", ".join(f"{i}. {name} ({format_value(main, v)})" for i, (v, name) in enumerate(ranked, 1))
    return [f"Judge: {', '.join(metric_label(m) for m in free)} (no variant trains through their networks; the "
            f"variants train through {trained}). {dataset} ranked by {metric_label(main)}: {order or '(none)'}.", ""]


def sweep_section(prep, result, rows, picture):
    """Markdown of one sweep: a table per dataset (references first), its judge and ranking, its trade-off plot."""
    metrics, columns = prep.evaluation.metrics, result.columns
    head = ["method", *(c.split(".")[-1] for c in columns), *(f"{metric_label(m)} {ARROWS[better(m)]}"
                                                              for m in metrics)]
    deltas = [m for m in (DISTORTION, judge(prep)) if m in metrics]
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
        lines += judge_lines(prep, rows, spec.name)
        lines += term_table(prep, rows, spec.name)
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
RESOLUTION = {"psnr": 0.005}
DEFAULT_RESOLUTION = 0.00005  # metrics shown with 4 decimals


def single_term(plan):
    """(term type, weight) of a variant that adds exactly one ``train.losses`` term, else None."""
    terms = plan.variant.settings.get("train.losses")
    if set(plan.variant.settings) != {"train.losses"} or not isinstance(terms, list) or len(terms) != 1:
        return None
    return terms[0].get("type"), terms[0].get("loss_weight", 1.0)


def _improves(delta, metric):
    tol = RESOLUTION.get(metric, DEFAULT_RESOLUTION)
    return delta is not None and (delta > tol if better(metric) == "higher" else delta < -tol)


def term_table(prep, rows, dataset):
    """For a sweep of single added terms with a 'base' variant: term | weight | deltas against the base, and the
    recommended weight per term (the one that improves the judge most at a PSNR cost of at most PSNR_BUDGET)."""
    plans = {p.variant.name: p for p in prep.plans}
    main = judge(prep)
    if BASE_VARIANT not in plans or main is None or not any(single_term(p) for p in prep.plans):
        return []
    metric_cols = [m for m in (DISTORTION, main, "niqe") if m in prep.evaluation.metrics]
    shift = "colour_shift" if "colour_shift" in prep.evaluation.metrics else None
    ref = {m: _value(rows, BASE_VARIANT, dataset, m) for m in (*metric_cols, shift) if m}
    head = ["term", "weight", *(f"Δ{metric_label(m)}" for m in metric_cols), "colour shift"]
    lines = [f"What each term buys on {dataset}, against the variant *{BASE_VARIANT}* (the same recipe without the "
             f"term; colour shift: largest per-image channel-mean difference from the GT, base "
             f"{format_value('colour_shift', ref.get(shift)) if shift else 'n/a'}):", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    by_term, recommended = {}, []
    for name, plan in plans.items():
        if name == BASE_VARIANT:
            continue
        term = single_term(plan)
        values = {m: _value(rows, name, dataset, m) for m in (*metric_cols, shift) if m}
        deltas = {m: None if values[m] is None or ref[m] is None else values[m] - ref[m] for m in metric_cols}
        label, weight = (term[0], override_text(term[1])) if term else (f"*{name}* (recipe)", "")
        cells = [label, weight, *(_delta(values[m], ref[m], m) for m in metric_cols),
                 format_value("colour_shift", values[shift]) if shift else "n/a"]
        lines.append("| " + " | ".join(sweep_report.escape(c) for c in cells) + " |")
        if term:
            by_term.setdefault(term[0], []).append((term[1], deltas))
    lines.append("")
    for term, tried in by_term.items():
        fits = [(w, d) for w, d in tried if d.get(DISTORTION) is not None and d[DISTORTION] >= -PSNR_BUDGET
                and _improves(d.get(main), main)]
        if fits:
            weight, d = max(fits, key=lambda f: f[1][main] if better(main) == "higher" else -f[1][main])
            recommended.append(f"- {term}: loss_weight {override_text(weight)} ({metric_label(main)} "
                               f"{_delta(d[main], 0, main)}, PSNR {_delta(d[DISTORTION], 0, DISTORTION)} dB).")
        else:
            recommended.append(f"- {term}: none of {', '.join(override_text(w) for w, _d in tried)} improves "
                               f"{metric_label(main)} within {PSNR_BUDGET} dB of the base's PSNR: "
                               f"{_what_else(tried, main)}")
    return lines + [f"Recommended weights ({metric_label(main)} improved most at a PSNR cost of at most "
                    f"{PSNR_BUDGET} dB):", "", *recommended, ""]


def _what_else(tried, main):
    """A term that fails the judge may still move along the trade-off: towards PSNR (by more than the budget
    a recommendation may spend), at the judge's cost."""
    gains = [(w, d) for w, d in tried if d.get(DISTORTION) is not None and round(d[DISTORTION], 2) > PSNR_BUDGET]
    if not gains:
        return "it buys nothing here."
    weight, d = max(gains, key=lambda g: g[1][DISTORTION])
    return (f"it buys PSNR instead, {_delta(d[DISTORTION], 0, DISTORTION)} dB at {override_text(weight)} "
            f"({metric_label(main)} {_delta(d.get(main), 0, main)}).")


def _trend(pairs, metric):
    values = [v for _s, v in pairs]
    if len(values) < 2 or any(v is None for v in values):
        return None
    tol = RESOLUTION.get(metric, DEFAULT_RESOLUTION)
    steps = [0 if abs(b - a) < tol else b - a for a, b in zip(values, values[1:])]
    if all(s == 0 for s in steps):
        return "does not move"
    if all(s <= 0 for s in steps):
        return "falls at every step" if all(s < 0 for s in steps) else "never rises"
    if all(s >= 0 for s in steps):
        return "rises at every step" if all(s > 0 for s in steps) else "never falls"
    return "does not move monotonically"


def weight_findings(prep, rows, dataset):
    """For a sweep of one numeric key: how PSNR and the sweep's judge move along it."""
    if len(prep.spec.variants) < 2 or not all(len(p.variant.settings) == 1 for p in prep.plans):
        return []
    key = next(iter(prep.plans[0].variant.settings))
    if not all(isinstance(p.variant.settings[key], (int, float)) for p in prep.plans):
        return []
    lines = []
    for metric in (m for m in (DISTORTION, judge(prep)) if m in prep.evaluation.metrics):
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
    metrics = [m for m in (DISTORTION, judge(prep)) if m in prep.evaluation.metrics]
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


def convergence_text(start_record):
    """The start's PSNR over the last quarter of its training, and whether that counts as converged."""
    from srgan_kit.sweeps.study import CONVERGED_DB

    c = start_record.get("convergence") or {}
    if c.get("psnr_from") is None or c.get("psnr_to") is None:
        return ("Its convergence was not measured (no checkpoint at three quarters of its training: "
                "logger.save_checkpoint_freq).")
    change = c["psnr_to"] - c["psnr_from"]
    verdict = (f"converged (under {CONVERGED_DB} dB)" if abs(change) < CONVERGED_DB else
               f"not converged ({CONVERGED_DB} dB or more): variants may beat it by training it further")
    return (f"Over the last quarter of its training its PSNR on {c['dataset']} went from {c['psnr_from']:.2f} dB "
            f"(iteration {c['from_iter']}) to {c['psnr_to']:.2f} dB (iteration {c['to_iter']}), {change:+.3f} dB: "
            f"{verdict}.")


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
    variants = [r for _p, result in runs for r in result.records]
    trained = [r.get("train_time_s") for r in variants]
    trained_s = sum(t for t in [start_record.get("train_time_s"), *trained] if isinstance(t, (int, float)))
    lines = ["# Loss-weighting study", "",
             f"Written by `{command}` ({sweep_report.duration(wall_s)} wall time; the recorded training of the start "
             f"and the {len(trained)} variants took {sweep_report.duration(trained_s)}).", "",
             f"- trained in {sweep_report.conditions_text([start_record, *variants])}; report written on "
             f"{machine_line()}",
             f"- start: `{study.start_path}`: {net['type']} ({net_text}) trained "
             f"{start_opt['train']['total_iter']} iterations with L1 on "
             f"{', '.join(Path(f).parent.name if Path(f).name == 'HR' else Path(f).name for f in folders)} "
             f"(LR: MATLAB bicubic x{start_opt['scale']}, GT crops {train_set['gt_size']}, batch "
             f"{train_set['batch_size_per_gpu']})"
             + (f", {sweep_report.duration(start_record.get('train_time_s'))}" if start_record.get("train_time_s")
                else "") + "; its EMA weights are the row *start*. " + convergence_text(start_record),
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

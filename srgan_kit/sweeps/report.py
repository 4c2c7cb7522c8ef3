"""A finished sweep laid out: results.csv (one row per method and dataset), results.md (one table per dataset)
and tradeoff.png (distortion on x, perception on y, one labelled point per variant plus the references, and a
dashed curve from the start through each variant's interpolated generators to the variant).

Rows come from the records srgan_kit.sweeps.runner writes (variants/<name>.json, references/<name>.json).
"""
import csv
import io
import math
from pathlib import Path

from srgan_kit.eval.conventions import better, format_value, metric_label
from srgan_kit.fileio import atomic_open, json_number, write_text_atomic

# Reference methods are drawn apart from the variants (marker, colour), so the eye finds them at once.
REFERENCE_STYLE = {"bicubic": dict(marker="s", color="0.45"), "start": dict(marker="^", color="black")}
VARIANT_STYLE = dict(marker="o")
LABEL_OFFSETS = ((5, 4), (5, -11), (-5, 9), (-5, -16))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _lookup(opt, dotted):
    node = opt
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def rows(result, evaluation, context):
    """One dict per (method, dataset): kind, variant, dataset, each swept key, each metric, time, status."""
    resolved = context.get("resolved") or {}
    out = []
    for record in [*result.references, *result.records, *result.interpolated]:
        results = record.get("results") or {}
        sets = results.get("datasets") or {}
        unavailable = results.get("unavailable") or {}
        kind = "interpolated" if record.get("interpolated") else "reference" if record.get("reference") else "variant"
        for spec in evaluation.datasets:
            row = {"variant": record["variant"], "kind": kind, "dataset": spec.name}
            settings = record.get("settings") or {}
            for key in result.columns:
                if row["kind"] != "variant":
                    row[key] = ""
                    continue
                value = _lookup(resolved.get(record["variant"], {}), key)
                row[key] = settings.get(key, "") if value is None else value
            means = (sets.get(spec.name) or {}).get("mean") or {}
            for metric in evaluation.metrics:
                value = json_number(means.get(metric))  # identical images: PSNR "inf"
                row[metric] = value if _number(value) or value == math.inf else None
                if row[metric] is None and metric in unavailable and record["status"] == "ok":
                    row[metric] = f"n/a ({unavailable[metric]})"
            row["train_time_s"] = record.get("train_time_s")
            row["total_iter"] = record.get("total_iter")
            row["status"] = record["status"]
            out.append(row)
    return out


def write_csv(path, table, columns, metrics):
    fields = ["variant", "kind", "dataset", *columns, *metrics, "train_time_s", "total_iter", "status"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    return write_text_atomic(path, buffer.getvalue())


def cell(metric, value):
    if value is None:
        return "–"
    return "n/a" if isinstance(value, str) else format_value(metric, value)


def duration(seconds):
    if not _number(seconds):
        return "–"
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes)} min {secs:.0f} s" if minutes else f"{secs:.1f} s"


def escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def conditions_text(records):
    """How the recorded runs trained: 'fp32 on <machine>', one entry per distinct precision and machine (with
    how many runs, when they differ), and how many runs did not record it."""
    trained = [r for r in records if r.get("train_time_s") is not None or r.get("precision")]
    seen = {}
    for record in trained:
        if record.get("precision"):
            where = f"{record['precision']} on {record.get('machine') or 'an unrecorded machine'}"
            seen[where] = seen.get(where, 0) + 1
    parts = [where if len(seen) == 1 else f"{where} ({count} run{'s' if count > 1 else ''})"
             for where, count in seen.items()]
    missing = len(trained) - sum(seen.values())
    if missing:
        parts.append(f"{missing} run{'s' if missing > 1 else ''} without a record of it")
    return "; ".join(parts) or "nothing trained"


def markdown(table, result, evaluation, context):
    arrows = {"higher": "↑", "lower": "↓"}
    title = context.get("description") or Path(context["sweep"]).stem
    lines = [f"# Loss sweep: {title}", "", f"- sweep file: `{context['sweep']}`",
             f"- base options: `{context['base']}`",
             f"- start weights (path.pretrain_network_g): `{context.get('start') or 'none (trained from scratch)'}`",
             f"- applied to every variant: {', '.join(f'`{t}`' for t in context.get('base_set') or []) or 'nothing'}",
             f"- scored with {', '.join(metric_label(m) for m in evaluation.metrics)} (PSNR/SSIM on the Y channel, "
             f"border {evaluation.crop_border if evaluation.crop_border is not None else evaluation.scale} pixels "
             f"cropped); ↑ higher is better, ↓ lower is better",
             f"- trained in {conditions_text(result.records)}",
             "- a setting left blank is the base file's value (or the option's default)", ""]
    head = ["variant", *result.columns, *(f"{metric_label(m)} {arrows[better(m)]}" for m in evaluation.metrics),
            "training time", "status"]
    notes = {}
    for spec in evaluation.datasets:
        lines += [f"## {spec.name} (x{evaluation.scale})", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join("---" for _ in head) + "|"]
        for row in (r for r in table if r["dataset"] == spec.name):
            name = f"{row['variant']} ({row['kind']})" if row["kind"] != "variant" else row["variant"]
            cells = [name, *(row[k] for k in result.columns), *(cell(m, row[m]) for m in evaluation.metrics),
                     duration(row["train_time_s"]) if row["kind"] == "variant" else "", row["status"]]
            for metric in evaluation.metrics:
                if isinstance(row[metric], str):
                    notes[metric] = row[metric]
            lines.append("| " + " | ".join(escape(c) for c in cells) + " |")
        lines.append("")
    for metric, text in notes.items():
        lines.append(f"{metric_label(metric)}: {text}")
    return "\n".join(lines).rstrip() + "\n"


def plot_axes(metrics, table):
    """(x metric, y metric): PSNR (else the first higher-is-better metric) against the first perceptual
    (lower-is-better) metric that has numbers; another metric when there is none; (x, None) with one metric."""
    have = [m for m in metrics if any(_number(r[m]) for r in table)]
    higher = [m for m in have if better(m) == "higher"]
    x = next((m for m in have if metric_label(m).startswith("PSNR")), higher[0] if higher else None)
    if x is None:
        return None, None
    lower = [m for m in have if better(m) == "lower"]
    y = lower[0] if lower else next((m for m in have if m != x), None)
    return x, y


def plot_points(table, x, y):
    """{dataset: [(label, x, y, kind)]}: the finished variants and the references that have both numbers (the
    interpolated generators are drawn as curves, see :func:`interpolation_curves`)."""
    points = {}
    for row in table:
        if row["status"] == "ok" and row["kind"] != "interpolated" and _number(row[x]) and _number(row[y]):
            kind = row["variant"] if row["kind"] == "reference" else "variant"
            points.setdefault(row["dataset"], []).append((row["variant"], row[x], row[y], kind))
    return points


def interpolation_curves(table, records, x, y):
    """{dataset: [[(x, y), ...]]}: per interpolated variant, start -> its blends by alpha -> the variant."""
    at = {(r["dataset"], r["variant"]): (r[x], r[y]) for r in table
          if r["status"] == "ok" and _number(r[x]) and _number(r[y])}
    by_variant = {}
    for record in records:
        info = record["interpolated"]
        by_variant.setdefault(info["variant"], []).append((info["alpha"], record["variant"]))
    curves = {}
    for dataset in dict.fromkeys(r["dataset"] for r in table):
        for variant, blends in by_variant.items():
            names = ["start", *(name for _alpha, name in sorted(blends)), variant]
            line = [at[(dataset, n)] for n in names if (dataset, n) in at]
            if len(line) > 1:
                curves.setdefault(dataset, []).append(line)
    return curves


def plot_tradeoff(path, points, x, y, title="", curves=None):
    """Draw tradeoff.png with matplotlib's object API on the Agg canvas (no display, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sets = list(points) or [""]
    fig = Figure(figsize=(6.4 * len(sets), 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(sets), squeeze=False)[0]
    for ax, name in zip(axes, sets):
        for line in (curves or {}).get(name, []):
            ax.plot([p[0] for p in line], [p[1] for p in line], linestyle="--", marker=".", color="0.6", zorder=2)
        for i, (label, px, py, kind) in enumerate(points.get(name, [])):
            style = REFERENCE_STYLE.get(kind, VARIANT_STYLE)
            ax.scatter([px], [py], s=50, zorder=3, label=label, **style)
            # Variants often land close together: stagger the labels (the legend names every point too).
            ax.annotate(label, (px, py), textcoords="offset points", xytext=LABEL_OFFSETS[i % len(LABEL_OFFSETS)],
                        fontsize=8)
        if points.get(name):
            ax.legend(fontsize=8, loc="best", framealpha=0.8)
        ax.set_xlabel(f"{metric_label(x)} ({better(x)} is better)")
        ax.set_ylabel(f"{metric_label(y)} ({better(y)} is better)")
        ax.set_title(f"{name}" if len(sets) > 1 or not title else f"{title}: {name}")
        ax.grid(True, alpha=0.3)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    return Path(path)


def write_reports(result, evaluation, context):
    """Write results.csv, results.md and tradeoff.png into result.out_dir; returns (files, plotted points)."""
    out = Path(result.out_dir)
    table = rows(result, evaluation, context)
    files = {"csv": write_csv(out / "results.csv", table, result.columns, evaluation.metrics),
             "md": write_text_atomic(out / "results.md", markdown(table, result, evaluation, context))}
    x, y = plot_axes(evaluation.metrics, table)
    points = {}
    if x and y:
        points = plot_points(table, x, y)
        curves = interpolation_curves(table, result.interpolated, x, y)
        files["plot"] = plot_tradeoff(out / "tradeoff.png", points, x, y, title=Path(context["sweep"]).stem,
                                      curves=curves)
    elif (out / "tradeoff.png").exists():  # an older plot would no longer match the tables
        (out / "tradeoff.png").unlink()
    return files, points

"""Evaluation results as a plain-text table, JSON or CSV.

JSON is strict (no ``Infinity``): non-finite numbers are the strings ``"inf"`` / ``"-inf"`` / ``"nan"`` (the
project's one JSON writer, srgan_kit.fileio.write_json); CSV writes ``inf``; ``None`` (an unavailable metric)
is JSON ``null``, an empty CSV cell and ``n/a`` in the table. CSV rows are ``[method,] dataset, image ('mean'
for the mean row), <metric columns>``.
"""
import csv
import io
import math

from srgan_kit.eval.conventions import format_value
from srgan_kit.fileio import write_json as _write_json
from srgan_kit.fileio import write_text_atomic

def _methods(result):
    """[(method name or None, single result)] for a single or merged result."""
    if "methods" in result:
        return list(result["methods"].items())
    return [(None, result)]


def write_json(result, path):
    """Strict JSON (non-finite numbers as strings, see the module docstring)."""
    return _write_json(path, result)


def _all_metrics(blocks):
    keys = []
    for _method, res in blocks:
        keys += [k for k in res["metrics"] if k not in keys]
    return keys


def write_csv(result, path):
    """Rows ``[method,] dataset, image, <metrics>``: per image, then a 'mean' row per dataset."""
    blocks = _methods(result)
    keys = _all_metrics(blocks)
    merged = "methods" in result
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((["method"] if merged else []) + ["dataset", "image"] + keys)

    def cell(v):
        return "" if v is None else repr(float(v)) if math.isfinite(v) else str(v)

    for method, res in blocks:
        lead = [method] if merged else []
        for dataset, entry in res["datasets"].items():
            for image, row in entry["images"].items():
                writer.writerow(lead + [dataset, image] + [cell(row.get(k)) for k in keys])
            writer.writerow(lead + [dataset, "mean"] + [cell(entry["mean"].get(k)) for k in keys])
    return write_text_atomic(path, buf.getvalue())


def _settings_line(blocks):
    _method, first = blocks[0]
    parts = [f"x{first['scale']}"]
    border = {k: s["crop_border"] for k, s in first["settings"].items() if "crop_border" in s}
    if border:
        by_value = {}
        for k, v in border.items():
            by_value.setdefault(v, []).append(k)
        parts += [f"crop border {v} ({', '.join(ks)})" for v, ks in by_value.items()]
    y = [k for k, s in first["settings"].items() if s.get("test_y_channel")]
    if y:
        parts.append(f"Y channel ({', '.join(y)})")
    whole = [k for k, s in first["settings"].items() if "crop_border" not in s]
    if whole:
        parts.append(f"whole RGB image ({', '.join(whole)})")
    better = first["better"]
    for direction in ("higher", "lower"):
        ks = [k for k in first["metrics"] if better.get(k) == direction]
        if ks:
            parts.append(f"{direction} is better: {', '.join(ks)}")
    return "; ".join(parts)


def format_table(result, per_image=False):
    """A plain-text table: a row per dataset (and method), 'n/a' for unavailable metrics, reasons below."""
    blocks = _methods(result)
    keys = _all_metrics(blocks)
    merged = "methods" in result
    head = ["dataset"] + (["method"] if merged else []) + ["images"] + keys
    rows = []
    datasets = []
    for _method, res in blocks:
        datasets += [d for d in res["datasets"] if d not in datasets]
    for dataset in datasets:
        for method, res in blocks:
            entry = res["datasets"].get(dataset)
            if entry is None:
                continue
            who = [method] if merged else []
            means = [format_value(k, entry["mean"].get(k)) for k in keys]
            rows.append([dataset] + who + [str(len(entry["images"]))] + means)
            if per_image:
                for image, row in entry["images"].items():
                    rows.append([f"  {image}"] + who + [""] + [format_value(k, row.get(k)) for k in keys])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    text_cols = 2 if merged else 1  # left-aligned columns

    def line(cells):
        return "  ".join(c.ljust(w) if i < text_cols else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [_settings_line(blocks), line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    reasons = {}
    for _method, res in blocks:
        reasons.update(res.get("unavailable") or {})
    out += [f"{k}: n/a ({reason})" for k, reason in reasons.items()]
    return "\n".join(out)

"""Write docs/archs.md from the generator registry (``make archs-doc``): every registered SR generator with its
family, origin, licence, paper, scale key, input sizes, keys and defaults and the recipes in options/ that use it,
plus the measured columns of docs/bench_archs_cpu.json (benchmarks/archs.py, ``make bench-archs``) when it exists.

    .venv/bin/python tools/archs_doc.py [--json docs/bench_archs_cpu.json] [--out docs/archs.md] [--check]

Nothing is built or run: the keys come from the registry, the numbers from the JSON. --check writes nothing and
fails when the page differs from what it would write.
"""
import argparse
import configparser
import inspect
import json
import sys
import textwrap
from pathlib import Path

from srgan_kit.config.options import read_yaml
from srgan_kit.registry import ARCHS

REPO = Path(__file__).resolve().parents[1]
DOC = "docs/archs.md"
BENCH_JSON = "docs/bench_archs_cpu.json"
DEMO_JSON = "docs/demo_archs_cpu.json"  # tools/demo_archs.py --json
DEMO_PICTURE = "docs/demo_archs.png"
FAMILIES = {"compact": "Compact", "cnn": "CNNs", "transformer": "Transformers"}
# srgan_kit's own generators carry no upstream entry: their family and paper.
OWN = {
    "MSRResNet": ("cnn", "Ledig et al. 2017, SRResNet (SRGAN's generator) without batch norm, as BasicSR's MSRResNet"),
    "RRDBNet": ("cnn", "Wang et al. 2018, ESRGAN's Residual-in-Residual Dense Block network (Real-ESRGAN's generator)"),
}


def project_licence():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg.get("metadata", "license", fallback="see the repository")


def _value(v):
    """An option value as it reads in YAML."""
    if v is None:
        return "~"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v) if v == "" or not v.replace("+", "").replace("_", "").isalnum() else v
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _wrap(text):
    """A paragraph as the other pages write it: lines of at most 120 columns, never broken inside `code`."""
    parts = text.split("`")
    glued = "`".join(p.replace(" ", "\0") if i % 2 else p for i, p in enumerate(parts))
    lines = textwrap.wrap(glued, 120, break_long_words=False, break_on_hyphens=False)
    return [line.replace("\0", " ") for line in lines]


def _cell(text):
    return str(text).replace("|", "\\|")


def generators():
    """Every registered SR generator once, in registration order: a dict of what the page says about it."""
    groups = {}  # id(class) -> names, registration order
    for name in ARCHS.names():
        if ARCHS.attribute(name, "scale_key") is not None:  # discriminators have none
            groups.setdefault(id(ARCHS.get(name)), []).append(name)
    order = {id(obj): i for i, obj in enumerate(ARCHS.values())}
    out = []
    for key in sorted(groups, key=order.get):
        names = groups[key]
        cls = ARCHS.get(names[0])
        own = getattr(cls, "__name__", names[0])
        name = own if own in names else names[0]
        upstream = getattr(cls, "upstream", None)
        if upstream is not None:
            family, library, licence, paper = upstream.family, upstream.library, upstream.licence, upstream.paper
        else:
            family, paper = OWN.get(name, ("other", (inspect.getdoc(cls) or "").split("\n")[0]))
            library = cls.__module__.split(".")[0]
            licence = project_licence() if library == "srgan_kit" else "see its package"
        rule = ARCHS.attribute(name, "size_requirements")
        sizes = rule(ARCHS.with_defaults(name, {})).describe() if rule else "any size"
        out.append({"name": name, "aliases": [n for n in names if n != name], "family": family, "library": library,
                    "licence": licence, "paper": paper, "scale_key": ARCHS.attribute(name, "scale_key"),
                    "sizes": sizes, "keys": ARCHS.arguments(name)})
    return out


def recipes():
    """{generator name: [options/train_*.yml whose network_g is that generator]}."""
    found = {}
    for path in sorted((REPO / "options").glob("train_*.yml")):
        net = (read_yaml(path) or {}).get("network_g")
        if isinstance(net, dict) and net.get("type") in ARCHS:
            obj = ARCHS.get(net["type"])
            found.setdefault(id(obj), []).append(f"options/{path.name}")
    return {g["name"]: found.get(id(ARCHS.get(g["name"])), []) for g in generators()}


def _path(text):
    """A repository path in backticks when it exists (docs' tests check every backticked path), else plain."""
    return f"`{text}`" if (REPO / text).exists() else text


def measured_table(gens, bench, json_name):
    rows = bench.get("rows", {})
    m, s = bench["machine"], bench["settings"]
    gpu = f" ({m['gpu']})" if m.get("gpu") else ""
    lines = ["## Measured", ""]
    rounds = f"{s['warmup']} warm-up round" + ("s" if s["warmup"] != 1 else "")
    lines += _wrap(
        f"Each network at its recipe size (the recipe named, else its paper's default) on {m['cpu']} ({m['isa']}), "
        f"{m['threads']} threads, torch {m['torch']}, device {m['device']}{gpu}; `amp: auto` is {m['amp_auto']} "
        "there. Params: the parameters training updates (SPAN's re-parameterisable blocks train expanded branches "
        f"that fold into fewer weights for inference). GFLOPs: the FLOPs of one forward of a {s['flops_side']}x"
        f"{s['flops_side']} LR input. Train step: batch {s['batch']}, GT {s['gt']}, L1 + Adam, median of "
        f"{s['iters']} after {rounds}, srgan_kit's step (`amp: auto`, channels_last) alternated with a plain fp32 "
        "PyTorch loop over the same module; plain / ours above 1: ours is faster. Upscale: srgan_kit's Upscaler "
        f"(precision auto, channels_last, untiled) on a {s['upscale_size']}x{s['upscale_size']} LR image, median "
        f"of {s['upscale_iters']} after one warm-up.")
    lines += [
        "",
        "| network | size | params | GFLOPs / 64x64 | train step ms, ours | plain fp32 | plain / ours | upscale ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for g in gens:
        r = rows.get(g["name"])
        if r is None:
            lines.append(f"| {g['name']} | not measured | | | | | | |")
            continue
        size = _path(r["recipe"]) if r["recipe"].startswith("options/") else _cell(r["recipe"])
        lines.append(f"| {g['name']} | {size} | {r['params'] / 1e6:.2f} M | {r['gflops_64']:.1f} | "
                     f"{r['train_ms_ours']:.0f} | {r['train_ms_plain']:.0f} | {r['train_ratio']:.2f} | "
                     f"{r['upscale_ms']:.0f} |")
    commands = list(dict.fromkeys(r["command"] for r in rows.values()))
    lines += [""] + _wrap(f"Written to {_path(json_name)} by " + ", then ".join(f"`{c}`" for c in commands) + ".")
    return lines


def demo_table(demo):
    """tools/demo_archs.py's comparison: equal training time on the demo photos."""
    m = demo["machine"]
    lines = ["## The choice on the demo photos", ""]
    lines += _wrap(
        f"`make demo-archs` trains each network for {demo['minutes']:g} minutes on the demo photos with the demo's "
        f"PSNR recipe (`options/demo.yml`, only `network_g` changed; the sizes their authors publish for fast "
        f"models) on {m['cpu']}, {m['cores']} cores, then scores the held-out photos: PSNR / SSIM on Y (higher is "
        "better), ST-LPIPS (lower is better), and the seconds spent upscaling them. In equal time a network with "
        "a cheaper step trains more iterations, and one that upsamples its input as a skip (MSRResNet: bilinear, "
        "Compact: nearest) starts near the identity; SPAN has no such skip, starts far below bicubic and needs "
        "far more iterations than a few CPU minutes give it. The table shows where each stands after that time, "
        "not what each can reach.")
    lines += ["", "| network | trained params | iterations | PSNR | SSIM | ST-LPIPS | upscale s |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in demo["rows"]:
        params = f"{r['params'] / 1e6:.2f} M" if "params" in r else ""
        lines.append(f"| {r['network']} | {params} | {r.get('iterations', '')} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{r['stlpips']:.4f} | {r['upscale_s']:.2f} |" if "upscale_s" in r else
                     f"| {r['network']} | | | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['stlpips']:.4f} | |")
    lines += [""]
    if (REPO / DEMO_PICTURE).is_file():
        lines += [f"![the held-out photos: bicubic, each network, the ground truth](demo_archs.png)", ""]
    lines += _wrap(f"Written to {_path(DEMO_JSON)} by `{demo['command']}`.")
    return lines


def _families(gens):
    present = list(dict.fromkeys(g["family"] for g in gens))
    return [f for f in FAMILIES if f in present] + [f for f in present if f not in FAMILIES]


def render(bench=None, json_name=BENCH_JSON, demo=None):
    """The page's text; ``bench``: benchmarks/archs.py's JSON (None: no measured columns); ``demo``:
    tools/demo_archs.py's JSON (None: no demo table)."""
    gens = generators()
    recipe_files = recipes()
    names = {f: ", ".join(g["name"] for g in gens if g["family"] == f) for f in _families(gens)}
    ordered = [g for f in _families(gens) for g in gens if g["family"] == f]
    lines = [
        "# Generator architectures",
        "",
        f"<!-- Generated by tools/archs_doc.py (make archs-doc) from the registry and {json_name}: do not edit. -->",
        "",
    ]
    paragraphs = [
        "Every super-resolution generator srgan_kit trains, listed from its registry. srgan_kit's own networks match "
        "BasicSR's; the others are the upstream libraries' own classes (spandrel, chaiNNer's architecture library, "
        "and basicsr), so their weights keep each architecture's key layout and load in spandrel, chaiNNer and "
        "ComfyUI.",
        f"**Picking one.** Compact networks ({names.get('compact', '')}) have few parameters and FLOPs per pixel: "
        "they train fast, upscale large images and video on a CPU, and are the usual real-world GAN models. "
        f"Of the CNNs ({names.get('cnn', '')}), RRDBNet is ESRGAN's and Real-ESRGAN's generator, the reference for "
        f"GAN training. Transformers ({names.get('transformer', '')}) reach the best PSNR for their size but cost "
        "many more FLOPs and much more memory per pixel: train them on a GPU and expect long runs.",
        "**Naming one.** In an option file, `network_g` takes `type:` (a name or alias below) and the keys listed "
        "for it (BasicSR's names where upstream differs); keys left out take the defaults shown. The scale key must "
        "equal the file's `scale`; the window transformers default to x1 or x2, some without an upsampler, so set "
        "both for x4 as the recipes do:",
    ]
    for text in paragraphs:
        lines += _wrap(text) + [""]
    lines += ["```yaml", "network_g:", "  type: SPAN", "  feature_channels: 48", "  upscale: 4", "```", ""]
    for text in [
        "**Fine-tuning a downloaded model.** Leave `network_g` out and set only `path.pretrain_network_g` to the "
        "model file: the loader detects the architecture and its keys from the weights (spandrel's detection for "
        "the community's networks) and the run starts from them. [training.md](training.md) has the rest of the "
        "file.",
        "**Input sizes.** Some networks take only some input sides (column *input sizes*, in LR pixels). "
        "Validation, evaluation, tiled inference and ONNX export pad every input to the rule and crop the output "
        "back, so any image works; the option loader refuses training crops whose LR side (`gt_size / scale`) "
        "does not fit, and names a `gt_size` that does.",
    ]:
        lines += _wrap(text) + [""]
    lines += [
        "## Architectures",
        "",
        "| network | family | from | licence | scale key | input sizes | recipes |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in ordered:
        name = g["name"] + (f" ({', '.join(g['aliases'])})" if g["aliases"] else "")
        files = ", ".join(f"[{Path(p).name}](../{p})" for p in recipe_files[g["name"]]) or "—"
        lines.append(f"| [{name}](#{g['name'].lower()}) | {g['family']} | {g['library']} | {_cell(g['licence'])} | "
                     f"`{g['scale_key']}` | {g['sizes']} | {files} |")
    lines.append("")
    if bench is not None:
        lines += measured_table(ordered, bench, json_name) + [""]
    else:
        lines += _wrap(f"No measurements yet: `make bench-archs` writes {json_name}, and this page then has a "
                       "measured table (parameters, FLOPs, training step and upscaling times).") + [""]
    if demo is not None:
        lines += demo_table(demo) + [""]
    lines += ["## Keys", "", "Each generator's `network_g` keys with their defaults; *required* keys have none.", ""]
    for g in ordered:
        keys = ", ".join(f"`{k}` *required*" if v is inspect.Parameter.empty else f"`{k}: {_value(v)}`"
                         for k, v in g["keys"].items())
        about = f"{g['paper']}. From {g['library']}, licence {g['licence']}."
        if g["aliases"]:
            about += f" Also named {', '.join(g['aliases'])}."
        lines += [f"### {g['name']}", ""] + _wrap(about) + [""]
        lines += _wrap(f"Scale key `{g['scale_key']}`; input sizes: {g['sizes']}. Keys: {keys}.") + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def load_bench(json_path):
    path = Path(json_path)
    path = path if path.is_absolute() else REPO / path
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=BENCH_JSON, help="benchmarks/archs.py's results (skipped when absent)")
    parser.add_argument("--out", default=DOC)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page is not current")
    args = parser.parse_args(argv)
    text = render(load_bench(args.json), args.json, load_bench(DEMO_JSON))
    out = Path(args.out)
    out = out if out.is_absolute() else REPO / out
    if args.check:
        if not out.is_file() or out.read_text() != text:
            print(f"{args.out} is not current: run make archs-doc", file=sys.stderr)
            return 1
        return 0
    out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The sweep file: which option keys change, checked by the option engine (srgan_kit.config.engine)::

    base: options/demo_gan.yml            # optional; -opt on the command line wins
    start: experiments/demo_msrresnet_x4_psnr/models/net_g_latest.pth   # path.pretrain_network_g of every variant
    seed: 0                               # optional; default: the base file's manual_seed, else 0
    base_set:                             # overrides applied to every variant (and to the start reference)
      train.total_iter: 100
    grid:                                 # cartesian product -> one variant per combination ...
      train.gan_opt.loss_weight: [0, 1.0e-3, 1.0e-2]
    variants:                             # ... or named variants (give grid or variants, not both)
      - {name: ragan, set: {train.gan_opt.relativistic: average}}
    datasets: [val]                       # optional defaults for --datasets / --metrics
    metrics: [psnr, ssim, stlpips, niqe]
    interpolate:                          # optional: ESRGAN's network interpolation between the start and
      alpha: [0.2, 0.4, 0.6, 0.8]         # each trained variant (or those named in 'variants'), scored as
      variants: [gan_opt.loss_weight-0.01]  # rows of their own and drawn as curves in tradeoff.png
"""
import itertools
import re
from dataclasses import dataclass, field

import yaml

from srgan_kit.config import engine
from srgan_kit.config.engine import ANY, INT, NON_EMPTY, STR, Check, Context, Field, Kind, ListOf, MapOf, Section
from srgan_kit.config.options import read_yaml

RESERVED_NAMES = ("bicubic", "start")  # the reference rows of the table
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
VARIANT_NAME = Check(lambda v: bool(_NAME_OK.match(v)) and v not in RESERVED_NAMES,
                     f"usable as a variant name (letters, digits and _ . + -; it names files and runs; "
                     f"not {' or '.join(RESERVED_NAMES)}, the reference rows)")
# Option key paths a sweep may set; 'name' is not one: the sweep names each run <base name>_<variant>.
OPTION_PATH = r"(?!name$)[A-Za-z_][\w-]*(\.[\w-]+)*"
PATH_EXPECT = "an option key path such as train.gan_opt.loss_weight (not 'name': the sweep names the runs)"


def _names(value):
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise engine.Mismatch
    return [v.strip() for v in items]


NAMES = Kind("a list of names (or 'a,b')", _names)


def _settings():
    return MapOf(Field(ANY, nullable=True), key_pattern=OPTION_PATH, key_expect=PATH_EXPECT)


SWEEP_FILE = Section({
    "description": Field(STR, ""),
    "base": Field(STR, None, nullable=True),
    "start": Field(STR, None, nullable=True),
    "seed": Field(INT, None, nullable=True),
    "base_set": _settings(),
    "grid": MapOf(Field(engine.list_of(), check=NON_EMPTY), key_pattern=OPTION_PATH, key_expect=PATH_EXPECT),
    "variants": ListOf(Section({"name": Field(STR, check=VARIANT_NAME), "set": _settings()})),
    "datasets": Field(NAMES, None, nullable=True),
    "metrics": Field(NAMES, None, nullable=True),
    "interpolate": Section({"alpha": Field(engine.list_of(engine.NUMBER), check=engine.each(engine.between(0, 1))),
                            "variants": Field(NAMES, None, nullable=True)}, absent=None),
}, required=True)


@dataclass
class Variant:
    name: str
    settings: dict  # {dotted key: value as the sweep file gives it}, in file order


@dataclass
class SweepSpec:
    file: str
    variants: list
    base: str | None = None
    start: str | None = None
    seed: int | None = None
    base_set: dict = field(default_factory=dict)
    datasets: list | None = None
    metrics: list | None = None
    description: str = ""
    interpolate: dict | None = None  # {'alpha': [...], 'variants': [...] or None (every variant)}


def override_text(value):
    """A sweep value as --set text: strings as written, everything else as YAML 1.1 reads it back (1.0e-03)."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf")).strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


def _slug(text):
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "x"


def expand_grid(grid):
    """{key: [values]} -> one Variant per combination (first key varies slowest), named '<key>-<value>_...'.

    A key is named by its last part (loss_weight) unless two grid keys share it, then by the whole path.
    """
    keys = list(grid)
    last = [k.split(".")[-1] for k in keys]
    short = {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}
    variants, used = [], set()
    for combo in itertools.product(*(grid[k] for k in keys)):
        settings = dict(zip(keys, combo))
        name = base = "_".join(f"{short[k]}-{_slug(override_text(v))}" for k, v in settings.items())
        n = 2
        while name in used:  # values that differ only in characters the slug drops
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        variants.append(Variant(name, settings))
    return variants


def parse_sweep(data, file="<sweep>"):
    """A sweep file's mapping -> SweepSpec; one OptionError naming the file and the key for the problems."""
    ctx = Context()
    spec = engine.validate(SWEEP_FILE, data, (), ctx)
    if not ctx.problems:
        has_grid, has_variants = "grid" in data, "variants" in data
        if has_grid == has_variants:
            ctx.problem((), "give either 'grid' (values to combine) or 'variants' (a list of named settings)")
        elif has_grid and not spec["grid"]:
            ctx.problem(("grid",), "is empty")
        elif has_variants and not spec["variants"]:
            ctx.problem(("variants",), "expected a non-empty list of {name: ..., set: {key: value}}")
        seen = set()
        for i, item in enumerate(spec["variants"]):
            if item["name"] in seen:
                ctx.problem(("variants", i, "name"), f"{item['name']!r} is used twice")
            seen.add(item["name"])
    engine.raise_problems(file, ctx)
    if spec["grid"]:
        variants = expand_grid(spec["grid"])
        for variant in variants:
            if not VARIANT_NAME.test(variant.name):
                engine.raise_problems(file, _one_problem(("grid",), f"variant name {variant.name!r}: "
                                                                   f"expected one {VARIANT_NAME.text}"))
    else:
        variants = [Variant(item["name"], item["set"]) for item in spec["variants"]]
    unknown = [n for n in (spec["interpolate"] or {}).get("variants") or () if n not in {v.name for v in variants}]
    if unknown:
        engine.raise_problems(file, _one_problem(("interpolate", "variants"), f"no variant named "
                                                 f"{', '.join(map(repr, unknown))}; the variants are "
                                                 f"{', '.join(v.name for v in variants)}"))
    return SweepSpec(file=str(file), variants=variants, base=spec["base"], start=spec["start"], seed=spec["seed"],
                     base_set=spec["base_set"], datasets=spec["datasets"], metrics=spec["metrics"],
                     description=spec["description"], interpolate=spec["interpolate"])


def _one_problem(path, message):
    ctx = Context()
    ctx.problem(path, message)
    return ctx


def load_sweep(path):
    """Read and check a sweep file (same strict YAML reading as option files)."""
    return parse_sweep(read_yaml(path), file=str(path))

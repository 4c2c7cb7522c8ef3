"""The standard SR datasets by name, and how to lay them out for evaluation and training.

Catalogue: :data:`BENCHMARKS` (Set5, Set14, B100, Urban100, Manga109, DIV2K_train, DIV2K_valid) with the
number of HR images each holds and public places to download them, as text for users who are online.
Nothing here downloads anything.

Layout (what ``tools/evaluate.py --datasets`` and the option files read), made by :func:`prepare_dataset`
from a folder of HR images::

    <out>/<Name>/HR/<stem>.png                 the HR images as given (re-encoded as PNG)
    <out>/<Name>/X<s>/HR/<stem>.png            HR cropped (bottom/right) to a multiple of s
    <out>/<Name>/X<s>/LR/<stem>x<s>.png        MATLAB imresize(HR, 1/s), bicubic, uint8 bit-exact
    <out>/<Name>/X<s>/HR_sub/<stem>_s001.png   optional sub-image crops (see below)
    <out>/<Name>/X<s>/LR_sub/<stem>_s001x<s>.png

Sub-images (:func:`extract_subimages`) follow BasicSR's ``extract_subimages``: windows of ``crop_size`` every
``step`` pixels, plus one flush with the bottom / right edge when more than ``thresh_size`` pixels would
otherwise be left out; numbered row by row from 1. LR folders use crop size, step and threshold divided by
the scale, so HR_sub and LR_sub images with the same number show the same region (the HR is mod-cropped).
Unlike BasicSR, LR sub-images keep the ``x<s>`` suffix, so ``filename_tmpl: '{}x4'`` pairs both the whole and
the sub-image folders, and images smaller than the crop are skipped with a warning instead of a crash.

Existing files are never overwritten: a target that already holds the same pixels is kept (re-runs are cheap
and idempotent), any other existing target is a DataError naming it.
"""
import contextlib
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from srgan_kit.data.degradation import imresize_uint8, mod_crop
from srgan_kit.data.imageio import image_size, list_images, load_image, quantize, save_image
from srgan_kit.errors import DataError, UserError, listing

# ---- catalogue -----------------------------------------------------------------------------------------------

_EDSR_BENCHMARK = "https://cv.snu.ac.kr/research/EDSR/benchmark.tar (EDSR's bundle: benchmark/<set>/HR)"
_BASICSR_DRIVE = ("https://drive.google.com/drive/folders/1pRmhEmmY-tPF7uH8DuVthfHoApZWJ1QU "
                  "(BasicSR's collection, see its docs/DatasetPreparation.md)")
_SELFEXSR = "https://github.com/jbhuang0604/SelfExSR (data/<set>/image_SRF_<s>/*_HR.png)"


@dataclass(frozen=True)
class Benchmark:
    """A known dataset: canonical name, HR image count, where to get it (text), other names it goes by."""

    name: str
    count: int
    description: str
    urls: tuple
    aliases: tuple = ()
    role: str = "test"
    notes: tuple = field(default=())


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("Set5", 5, "5 classic test images (Bevilacqua et al., BMVC 2012)",
                  (_EDSR_BENCHMARK, _SELFEXSR, _BASICSR_DRIVE)),
        Benchmark("Set14", 14, "14 classic test images (Zeyde et al., 2010)",
                  (_EDSR_BENCHMARK, _SELFEXSR, _BASICSR_DRIVE)),
        Benchmark("B100", 100, "the 100 test images of BSDS300 (Martin et al., ICCV 2001)",
                  (_EDSR_BENCHMARK,
                   "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/BSDS300-images.tgz "
                   "(BSDS300/images/test, JPEG)", _BASICSR_DRIVE),
                  aliases=("BSD100", "BSDS100")),
        Benchmark("Urban100", 100, "100 urban scenes with regular structures (Huang et al., CVPR 2015)",
                  (_EDSR_BENCHMARK, _SELFEXSR, _BASICSR_DRIVE)),
        Benchmark("Manga109", 109, "109 Japanese manga volumes, one page each (Matsui et al., 2017)",
                  ("http://www.manga109.org/en/ (academic use; request access on the site)", _BASICSR_DRIVE),
                  notes=("not in EDSR's benchmark.tar",)),
        Benchmark("DIV2K_train", 800, "DIV2K training split, 2K resolution (NTIRE 2017)",
                  ("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip",
                   "https://data.vision.ee.ethz.ch/cvl/DIV2K/ (official page)"),
                  aliases=("DIV2K-train", "DIV2K_train_HR"), role="train",
                  notes=("large images: add --subimages for training",)),
        Benchmark("DIV2K_valid", 100, "DIV2K validation split (images 0801-0900), 2K resolution",
                  ("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
                   "https://data.vision.ee.ethz.ch/cvl/DIV2K/ (official page)"),
                  aliases=("DIV2K-valid", "DIV2K_val", "DIV2K_valid_HR")),
    )
}


def find_benchmark(name):
    """The catalogue entry for ``name`` or one of its aliases (case-insensitive), else None."""
    wanted = str(name).lower()
    for bench in BENCHMARKS.values():
        if wanted in (n.lower() for n in (bench.name, *bench.aliases)):
            return bench
    return None


def canonical_name(name):
    """'bsd100' -> 'B100', 'set5' -> 'Set5'; names not in the catalogue (own sets) are returned as given."""
    bench = find_benchmark(name)
    return bench.name if bench else str(name)


def describe(bench):
    """Several lines for users: what the set is, how many images, where to download it, what to run next."""
    lines = [f"{bench.name}: {bench.description}; {bench.count} HR images ({bench.role})"]
    lines += [f"  download: {url}" for url in bench.urls]
    lines += [f"  note: {n}" for n in bench.notes]
    lines.append(f"  then: python tools/prepare_datasets.py --hr <folder with the {bench.count} HR images> "
                 f"--name {bench.name}")
    return "\n".join(lines)


# ---- checks --------------------------------------------------------------------------------------------------


def _say(message):
    print(message, file=sys.stderr)


def parse_scales(text):
    """'2,3,4' -> [2, 3, 4] (sorted, unique); UserError on anything but positive integers."""
    try:
        scales = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--scales {text!r}: expected integers such as 2,3,4") from None
    if not scales or scales[0] < 1:
        raise UserError(f"--scales {text!r}: expected positive integers such as 2,3,4")
    return scales


def check_count(name, folder, found):
    """One-line warning when a known set's folder does not hold its expected number of images, else None."""
    bench = find_benchmark(name)
    if bench is None or found == bench.count:
        return None
    return (f"warning: {bench.name} has {bench.count} HR images, but {folder} holds {found}; "
            "check that the folder is complete (or that this is the subset you want)")


def _sources(hr_dir, name, scales):
    """The HR files, checked: unique stems, every image large enough for the largest scale."""
    files = list_images(hr_dir, what=f"{name}: HR images (--hr)")
    stems = {}
    for p in files:
        if p.stem in stems:
            raise DataError(f"{hr_dir}: {stems[p.stem].name} and {p.name} have the same name stem")
        stems[p.stem] = p
    need = 2 * max(scales)  # the LR must be at least 2x2 pixels
    small = [f"{p.name} ({h}x{w})" for p in files for h, w in [image_size(p)] if min(h, w) < need]
    if small:
        raise DataError(f"{hr_dir}: image(s) smaller than {need}x{need} (twice the largest scale "
                        f"{max(scales)}): {listing(small, sep=', ')}")
    return files


# ---- writing -------------------------------------------------------------------------------------------------


def write_new(path, pixels):
    """Write uint8 RGB ``pixels`` to ``path`` unless it exists. Returns 'written' or 'kept' (same pixels).

    An existing file with other content (or unreadable) is never replaced: DataError naming it.
    """
    path = Path(path)
    if path.exists():
        try:
            same = np.array_equal(quantize(load_image(path).rgb), pixels)
        except DataError:
            same = False
        if same:
            return "kept"
        raise DataError(f"{path} exists and differs from what would be written there; refusing to overwrite it "
                        "(move it away or choose another output folder)")
    save_image(path, pixels.astype(np.float64) / 255.0)
    return "written"


def crop_positions(length, crop_size, step, thresh_size=0):
    """Window starts along one side, as BasicSR's extract_subimages; [] when the side is shorter than the crop."""
    if length < crop_size:
        return []
    starts = list(range(0, length - crop_size + 1, step))
    if length - (starts[-1] + crop_size) > thresh_size:
        starts.append(length - crop_size)
    return starts


def subimage_windows(height, width, crop_size, step, thresh_size=0):
    """[(index from 1, top, left)] row by row, BasicSR's numbering."""
    tops = crop_positions(height, crop_size, step, thresh_size)
    lefts = crop_positions(width, crop_size, step, thresh_size)
    return [(i + 1, t, l) for i, (t, l) in enumerate((t, l) for t in tops for l in lefts)]


def _write_subimages(pixels, out_dir, base, suffix, crop, counts):
    """Crop one uint8 image into ``<out_dir>/<base>_sNNN<suffix>.png``; returns False if it is too small."""
    size, step, thresh = crop
    windows = subimage_windows(pixels.shape[0], pixels.shape[1], size, step, thresh)
    for index, top, left in windows:
        status = write_new(out_dir / f"{base}_s{index:03d}{suffix}.png", pixels[top:top + size, left:left + size])
        counts[status] += 1
    return bool(windows)


@dataclass(frozen=True)
class SubimageSpec:
    """HR crop size / step / threshold (LR folders use them divided by the scale)."""

    crop_size: int = 480
    step: int = 240
    thresh_size: int = 0

    def check(self, scales):
        if self.crop_size < 1 or self.step < 1 or self.thresh_size < 0:
            raise UserError(f"--crop-size ({self.crop_size}) and --step ({self.step}) must be >= 1, "
                            f"--thresh-size ({self.thresh_size}) >= 0")
        for s in scales:
            for flag, value in (("--crop-size", self.crop_size), ("--step", self.step),
                                ("--thresh-size", self.thresh_size)):
                if value % s:
                    raise UserError(f"{flag} {value} is not a multiple of scale {s} (LR crops must align)")

    def divided(self, s):
        return self.crop_size // s, self.step // s, self.thresh_size // s


def _prepare_one(job):
    """Worker: one HR file -> its HR copy, X<s>/{HR,LR} and optional sub-images. Returns status counts."""
    src, root, scales, copy_hr, sub = job
    counts = {"written": 0, "kept": 0, "too_small": 0}
    img = load_image(src)
    hr = quantize(img.rgb)
    if copy_hr:
        counts[write_new(root / "HR" / f"{src.stem}.png", hr)] += 1
    for s in scales:
        hr_s = np.ascontiguousarray(mod_crop(hr, s))
        lr = imresize_uint8(hr_s, 1.0 / s)
        counts[write_new(root / f"X{s}" / "HR" / f"{src.stem}.png", hr_s)] += 1
        counts[write_new(root / f"X{s}" / "LR" / f"{src.stem}x{s}.png", lr)] += 1
        if sub is not None:
            ok = _write_subimages(hr_s, root / f"X{s}" / "HR_sub", src.stem, "", sub.divided(1), counts)
            _write_subimages(lr, root / f"X{s}" / "LR_sub", src.stem, f"x{s}", sub.divided(s), counts)
            counts["too_small"] += 0 if ok else 1
    return str(src), counts, img.bit_depth, img.alpha is not None


def _run(fn, jobs, workers, desc):
    """fn over jobs, in ``workers`` processes when > 1, with a progress bar on stderr (closed before any error)."""
    with contextlib.ExitStack() as stack:
        mapper = map
        if workers > 1:  # spawn, not fork: a forked child would inherit the caller's threads half-locked
            spawn = multiprocessing.get_context("spawn")
            mapper = stack.enter_context(ProcessPoolExecutor(workers, mp_context=spawn)).map
        return list(tqdm(mapper(fn, jobs), total=len(jobs), desc=desc, unit="img", file=sys.stderr,
                         disable=len(jobs) < 2, leave=False))


def _total(results):
    total = {"written": 0, "kept": 0, "too_small": 0}
    for _src, counts, *_rest in results:
        for k, v in counts.items():
            total[k] += v
    return total


def prepare_dataset(hr_dir, name, scales=(2, 3, 4), out="datasets", subimages=None, workers=1, say=_say):
    """Build ``<out>/<Name>/...`` (module docstring) from the HR images in ``hr_dir``.

    subimages: a :class:`SubimageSpec` to also write X<s>/HR_sub and X<s>/LR_sub. ``say`` gets warnings and
    notes (one line each). Returns a summary dict: root, images, counts of files written / kept.
    """
    scales = sorted({int(s) for s in scales})
    if not scales or scales[0] < 1:
        raise UserError(f"scales must be positive integers, got {scales}")
    name = canonical_name(name)
    hr_dir = Path(hr_dir)
    files = _sources(hr_dir, name, scales)
    if subimages is not None:
        subimages.check(scales)
    warning = check_count(name, hr_dir, len(files))
    if warning:
        say(warning)
    if find_benchmark(name) is None:
        say(f"note: {name} is not a known set ({', '.join(BENCHMARKS)}): no image count to check")
    root = Path(out) / name
    # HR given in place (<out>/<Name>/HR): nothing to copy, and nothing else is added to that folder.
    copy_hr = (root / "HR").resolve() != hr_dir.resolve()
    jobs = [(p, root, scales, copy_hr, subimages) for p in files]
    results = _run(_prepare_one, jobs, workers, f"preparing {name}")
    deep = [Path(src).name for src, _c, bits, _a in results if bits == 16]
    alpha = [Path(src).name for src, _c, _b, has_alpha in results if has_alpha]
    if deep:
        say(f"note: 16-bit image(s) written as 8-bit (benchmarks are 8-bit): {listing(deep, sep=', ')}")
    if alpha:
        say(f"note: alpha channel dropped from: {listing(alpha, sep=', ')}")
    total = _total(results)
    if total["too_small"]:
        say(f"warning: {total['too_small']} image/scale pair(s) smaller than the sub-image crop: no sub-images")
    return {"root": root, "images": len(files), "scales": scales, **total}


def _prepare_sub_one(job):
    src, out_dir, scale, crop = job
    counts = {"written": 0, "kept": 0, "too_small": 0}
    img = load_image(src)
    suffix = f"x{scale}" if scale > 1 and src.stem.endswith(f"x{scale}") else ""
    base = src.stem[: len(src.stem) - len(suffix)]
    if not _write_subimages(quantize(img.rgb), out_dir, base, suffix, crop, counts):
        counts["too_small"] += 1
    return str(src), counts, img.bit_depth, img.alpha is not None


def extract_subimages(in_dir, out_dir, subimages=None, scale=1, workers=1, say=_say):
    """Crop every image of ``in_dir`` into ``out_dir/<stem>_sNNN.png`` (module docstring).

    scale > 1: an LR folder of that scale: crop size, step and threshold are divided by it, and a trailing
    ``x<scale>`` in the names is kept at the end (``0001x4.png`` -> ``0001_s001x4.png``).
    """
    subimages = subimages or SubimageSpec()
    subimages.check([scale])
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if out_dir.resolve() == in_dir.resolve():
        raise UserError(f"--output {out_dir} is the input folder: choose another one")
    files = list_images(in_dir, what="images to crop (--input)")
    jobs = [(p, out_dir, int(scale), subimages.divided(int(scale))) for p in files]
    results = _run(_prepare_sub_one, jobs, workers, "cropping")
    small = [Path(src).name for src, counts, *_r in results if counts["too_small"]]
    if small:
        size = subimages.crop_size // int(scale)
        say(f"warning: {len(small)} image(s) smaller than the {size}x{size} crop were skipped: "
            f"{listing(small, sep=', ')}")
    return {"root": out_dir, "images": len(files), **_total(results)}


# ---- verifying a prepared layout -----------------------------------------------------------------------------


def verify_layout(name, out="datasets", scales=None):
    """Check ``<out>/<Name>/X<s>/{HR,LR}``: pairs, sizes (HR = LR x s) and the known image count.

    scales None: every X<s> folder present. Returns (problems, warnings): lists of one-line messages.
    """
    name = canonical_name(name)
    root = Path(out) / name
    if scales is None:
        scales = sorted(int(p.name[1:]) for p in root.glob("X*") if p.is_dir() and p.name[1:].isdigit())
        if not scales:
            return [f"{root}: no X<scale> folders (make them with tools/prepare_datasets.py)"], []
    problems, warnings = [], []
    for s in scales:
        hr_dir, lr_dir = root / f"X{s}" / "HR", root / f"X{s}" / "LR"
        try:
            hrs = {p.stem: p for p in list_images(hr_dir, what=f"{name} x{s} HR")}
            lrs = {p.stem: p for p in list_images(lr_dir, what=f"{name} x{s} LR")}
        except DataError as exc:
            problems.append(str(exc))
            continue
        warning = check_count(name, hr_dir, len(hrs))
        if warning:
            warnings.append(warning)
        unpaired = [f"{stem}x{s}" for stem in hrs if f"{stem}x{s}" not in lrs]
        extra = [stem for stem in lrs if not (stem.endswith(f"x{s}") and stem[: -len(f'x{s}')] in hrs)]
        if unpaired:
            problems.append(f"{lr_dir}: no LR image for {len(unpaired)} HR image(s): {listing(unpaired, sep=', ')}")
        if extra:
            problems.append(f"{lr_dir}: {len(extra)} LR image(s) without an HR image: {listing(extra, sep=', ')}")
        for stem, hr_path in hrs.items():
            lr_path = lrs.get(f"{stem}x{s}")
            if lr_path is None:
                continue
            (h, w), (lh, lw) = image_size(hr_path), image_size(lr_path)
            if (h, w) != (lh * s, lw * s):
                problems.append(f"{hr_path} is {h}x{w} but its LR {lr_path.name} is {lh}x{lw} (x{s} -> "
                                f"{lh * s}x{lw * s})")
    return problems, warnings


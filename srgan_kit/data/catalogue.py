"""The standard SR datasets by name, and how to lay them out for evaluation and training.

Catalogue: :data:`BENCHMARKS` (Set5, Set14, B100, Urban100, Manga109, DIV2K_train, DIV2K_valid) with the
number of HR images each holds and public places to download them, as text for users who are online.
Nothing here downloads anything.

Layout (what ``tools/evaluate.py --datasets`` and the option files read), made by :func:`prepare_dataset`
from a folder of HR images::

    <out>/<Name>/HR/<stem>.png                 the HR images as given (re-encoded as PNG)
    <out>/<Name>/X<s>/HR/<stem>.png            HR cropped (bottom/right) to a multiple of s
    <out>/<Name>/X<s>/LR/<stem>x<s>.png        MATLAB imresize(HR, 1/s), bicubic, uint8 bit-exact (8-bit HR only)
    <out>/<Name>/X<s>/HR_sub/<stem>_s001.png   optional sub-image crops (see below)
    <out>/<Name>/X<s>/LR_sub/<stem>_s001x<s>.png

Sub-images (:func:`extract_subimages`) follow BasicSR's ``extract_subimages``: windows of ``crop_size`` every
``step`` pixels, plus one flush with the bottom / right edge when more than ``thresh_size`` pixels would
otherwise be left out; numbered row by row from 1. LR folders use crop size, step and threshold divided by
the scale, so HR_sub and LR_sub images with the same number show the same region (the HR is mod-cropped).
Unlike BasicSR, LR sub-images keep the ``x<s>`` suffix, so ``filename_tmpl: '{}x4'`` pairs both the whole and
the sub-image folders, and images smaller than the crop are skipped with a warning instead of a crash. LR
sub-images are crops of the whole image's LR (what the layout's X<s>/LR holds), so they have no border effects
of their own. ``min_gradient`` (:func:`mean_gradient`) leaves out near-flat windows, HR and LR together; the
numbers of the others stay as they were.

Images are made in worker processes (``workers``), each file written atomically (a temporary file renamed).
Existing files are never overwritten: a target that already holds the same pixels is kept, any other existing
target is a DataError naming it. A hidden journal (:data:`JOURNAL`: in ``<out>/<Name>``, or beside a folder of
crops as ``.<folder>.srgan_kit_prepare.jsonl``) lists the images finished, so a rerun (after a kill, or with
images added) skips them without decoding anything and ends with the files a single run would have made.
"""
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from tqdm import tqdm

from srgan_kit.data.degradation import imresize_int, mod_crop
from srgan_kit.data.imageio import (image_size, is_image_file, list_images, load_image, quantize, save_image,
                                    shared_stems, stored_bit_depth)
from srgan_kit.errors import DataError, UserError, listing
from srgan_kit.fileio import remove_temporary_files, write_text_atomic

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


# ---- writing -------------------------------------------------------------------------------------------------

JOURNAL = ".srgan_kit_prepare.jsonl"  # in <out>/<Name>, or beside a folder of crops (.<folder>.srgan_kit_...)


def write_new(path, pixels):
    """Write uint8 or uint16 RGB ``pixels`` to ``path`` unless it exists. Returns 'written' or 'kept' (same
    pixels).

    An existing file with other content (or unreadable) is never replaced: DataError naming it.
    """
    path = Path(path)
    bits = 16 if pixels.dtype == np.uint16 else 8
    if path.exists():
        try:
            same = np.array_equal(quantize(load_image(path).rgb, bits), pixels)
        except DataError:
            same = False
        if same:
            return "kept"
        raise DataError(f"{path} exists and differs from what would be written there; refusing to overwrite it "
                        "(move it away or choose another output folder)")
    save_image(path, pixels.astype(np.float64) / (65535.0 if bits == 16 else 255.0), bit_depth=bits)
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


def mean_gradient(pixels):
    """What ``--min-gradient`` compares: the mean gradient magnitude of a uint8 RGB tile.

    Its grey image g (BT.601 luma 0.299 R + 0.587 G + 0.114 B in [0, 1], OpenCV's RGB->grey) gets the 3x3 Sobel
    responses divided by 8, gx and gy (so a ramp rising by a per pixel gives a), at the interior pixels (no
    padding); the measure is the mean of sqrt(gx^2 + gy^2) over them: 0 for a flat tile. Tiles under 3x3 pixels
    give inf (always kept).
    """
    if min(pixels.shape[:2]) < 3:
        return math.inf
    grey = cv2.cvtColor(np.ascontiguousarray(pixels, dtype=np.float32) / np.float32(255), cv2.COLOR_RGB2GRAY)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)[1:-1, 1:-1]
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)[1:-1, 1:-1]
    return float(cv2.magnitude(gx, gy).mean(dtype=np.float64)) / 8


@dataclass(frozen=True)
class SubimageSpec:
    """HR crop size / step / threshold (LR folders use them divided by the scale), and the :func:`mean_gradient`
    below which an HR sub-image is not written, nor its LR (0: every one is)."""

    crop_size: int = 480
    step: int = 240
    thresh_size: int = 0
    min_gradient: float = 0.0

    def check(self, scales):
        if self.crop_size < 1 or self.step < 1 or self.thresh_size < 0:
            raise UserError(f"--crop-size ({self.crop_size}) and --step ({self.step}) must be >= 1, "
                            f"--thresh-size ({self.thresh_size}) >= 0")
        if not (math.isfinite(self.min_gradient) and self.min_gradient >= 0):
            raise UserError(f"--min-gradient {self.min_gradient}: expected a number >= 0")
        for s in scales:
            for flag, value in (("--crop-size", self.crop_size), ("--step", self.step),
                                ("--thresh-size", self.thresh_size)):
                if value % s:
                    raise UserError(f"{flag} {value} is not a multiple of scale {s} (LR crops must align)")

    def divided(self, s):
        return self.crop_size // s, self.step // s, self.thresh_size // s


class _Out(NamedTuple):
    """One file a source image makes: which array (('hr', s): the image mod-cropped to s; ('lr', s): its MATLAB
    bicubic 1/s), which window of it ((top, left, size), None: all of it), and for sub-images the window's
    (s, index), shared by its HR and LR crops so that they are dropped together."""

    path: Path
    array: tuple
    window: tuple = None
    pair: tuple = None


def _window_outs(hr_dir, base, suffix, lr_dir, s, height, width, crop, dropped):
    """The sub-images of an image mod-cropped to s (``crop``: size, step, threshold) and, with ``lr_dir``, the
    same windows of its LR (a crop of the whole image's LR, not the LR of a crop: no border effects)."""
    size = crop[0]
    outs = []
    for index, top, left in subimage_windows(height - height % s, width - width % s, *crop):
        if (s, index) in dropped:
            continue
        outs.append(_Out(hr_dir / f"{base}_s{index:03d}{suffix}.png", ("hr", s), (top, left, size), (s, index)))
        if lr_dir is not None:
            outs.append(_Out(lr_dir / f"{base}_s{index:03d}x{s}.png", ("lr", s), (top // s, left // s, size // s),
                             (s, index)))
    return outs


@dataclass(frozen=True)
class _LayoutTask:
    """<root>/HR, X<s>/{HR,LR} and optional X<s>/{HR_sub,LR_sub} of each image (module docstring)."""

    root: Path
    scales: tuple
    copy_hr: bool
    sub: SubimageSpec = None

    @property
    def min_gradient(self):
        return self.sub.min_gradient if self.sub else 0.0

    @property
    def sub_scales(self):
        return self.scales if self.sub else ()

    @property
    def journal(self):
        return self.root / JOURNAL

    def folders(self):
        kinds = ("HR", "LR") + (("HR_sub", "LR_sub") if self.sub else ())
        return [self.root / "HR"] * self.copy_hr + [self.root / f"X{s}" / k for s in self.scales for k in kinds]

    def settings(self, source):
        sub = self.sub and [self.sub.crop_size, self.sub.step, self.sub.thresh_size, self.sub.min_gradient]
        return {"layout": str(Path(source).resolve()), "scales": list(self.scales), "copy_hr": self.copy_hr,
                "sub": sub}

    def plan(self, stem, height, width, dropped=frozenset()):
        outs = [_Out(self.root / "HR" / f"{stem}.png", ("hr", 1))] if self.copy_hr else []
        for s in self.scales:
            x = self.root / f"X{s}"
            outs += [_Out(x / "HR" / f"{stem}.png", ("hr", s)), _Out(x / "LR" / f"{stem}x{s}.png", ("lr", s))]
            if self.sub:
                outs += _window_outs(x / "HR_sub", stem, "", x / "LR_sub", s, height, width, self.sub.divided(1),
                                     dropped)
        return outs


@dataclass(frozen=True)
class _CropTask:
    """Sub-images of each image of a folder (an LR folder of ``scale``: crops divided by it, names keep their
    ``x<scale>``); with ``lr_dir``, the LR crops of the same windows (the HR mod-cropped to ``lr_scale``)."""

    out_dir: Path
    scale: int
    crop: tuple
    lr_dir: Path = None
    lr_scale: int = 1
    min_gradient: float = 0.0

    @property
    def sub_scales(self):
        return (self.lr_scale,)

    @property
    def journal(self):  # beside the folder, not in it: readers that take every file in a folder (BasicSR's) see none
        return self.out_dir.parent / f".{self.out_dir.name}{JOURNAL}"

    def folders(self):
        return [self.out_dir] + ([self.lr_dir] if self.lr_dir else [])

    def settings(self, source):
        lr = os.path.relpath(self.lr_dir, self.out_dir) if self.lr_dir else None
        return {"crop": str(Path(source).resolve()), "scale": self.scale, "window": list(self.crop), "lr": lr,
                "lr_scale": self.lr_scale, "min_gradient": self.min_gradient}

    def plan(self, stem, height, width, dropped=frozenset()):
        suffix = f"x{self.scale}" if self.scale > 1 and stem.endswith(f"x{self.scale}") else ""
        base = stem[: len(stem) - len(suffix)]
        return _window_outs(self.out_dir, base, suffix, self.lr_dir, self.lr_scale, height, width, self.crop,
                            dropped)


def _make_one(job):
    """Worker: one source image -> the files its task plans, low-gradient sub-images (and their LR) left out."""
    task, src = job
    img = load_image(src)
    pixels = quantize(img.rgb, img.bit_depth)  # 16-bit sources stay 16-bit (the layout refuses them up front)
    arrays = {}

    def tile(out):
        kind, s = out.array
        if out.array not in arrays:  # each array once, when first needed (an image whose windows all drop: no LR)
            hr = arrays.get(("hr", s))
            if hr is None:
                hr = arrays[("hr", s)] = np.ascontiguousarray(mod_crop(pixels, s))
            if kind == "lr":
                arrays[out.array] = imresize_int(hr, 1.0 / s)
        whole = arrays[out.array]
        if out.window is None:
            return whole
        top, left, size = out.window
        return whole[top:top + size, left:left + size]

    outs = task.plan(src.stem, *pixels.shape[:2])
    dropped = set()
    if task.min_gradient > 0:
        dropped = {o.pair for o in outs if o.pair and o.array[0] == "hr" and mean_gradient(tile(o)) < task.min_gradient}
    counts = {"written": 0, "kept": 0, "stale": 0}
    for out in outs:
        if out.pair in dropped:
            counts["stale"] += out.path.exists()  # left by a run with another --min-gradient
        else:
            counts[write_new(out.path, tile(out))] += 1
    return {"hw": pixels.shape[:2], "dropped": sorted(dropped), "counts": counts, "alpha": img.alpha is not None}


def _digest(paths):
    """What marks files as unchanged (names, sizes, modification times); None when one is missing."""
    digest = hashlib.sha1()
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        digest.update(f"{Path(path).name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class _Journal:
    """The source images a run finished (:data:`JOURNAL`): a header line with the run's settings, then one
    JSON line per image (its size, dropped windows and the digest of it and its files). A rerun with the same
    settings (after a kill, or with images added) skips the images whose source and files are unchanged without
    decoding anything; the others are made again, and their existing files are compared (write_new)."""

    def __init__(self, path, settings):
        self.path, self.head = path, {"settings": json.loads(json.dumps(settings))}
        self.entries = {}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            if json.loads(lines[0]) != self.head:
                return
        except (OSError, IndexError, ValueError):
            return
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                self.entries[entry["src"]] = entry
            except (ValueError, TypeError, KeyError):  # a line a kill cut short
                continue

    def finished(self, task, src):
        """(entry, planned files) when ``src`` and its files are as a finished run left them, else None."""
        entry = self.entries.get(src.name)
        if entry is None:
            return None
        dropped = {tuple(pair) for pair in entry["dropped"]}
        outs = task.plan(src.stem, *entry["hw"], dropped)
        return (entry, outs) if _digest([src] + [o.path for o in outs]) == entry["digest"] else None

    @contextlib.contextmanager
    def writing(self, kept):
        """Rewrite the journal with its header and the ``kept`` entries, then yield add(entry): one line each."""
        lines = [json.dumps(line) for line in [self.head, *kept]]
        write_text_atomic(self.path, "\n".join(lines) + "\n")
        with open(self.path, "a", encoding="utf-8") as handle:
            def add(entry):
                handle.write(json.dumps(entry) + "\n")
                handle.flush()  # a killed run keeps every line but maybe the last

            yield add


def _run_jobs(fn, jobs, workers, record):
    """record(index, fn(job)) for each job in order: here, or in ``workers`` processes. When the run stops
    early (an error, Ctrl-C), the queued jobs are cancelled and those that finished meanwhile are recorded too."""
    if workers <= 1 or len(jobs) < 2:
        for i, job in enumerate(jobs):
            record(i, fn(job))
        return
    # spawn, not fork: a forked child would inherit the caller's threads half-locked
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"))
    futures = [pool.submit(fn, job) for job in jobs]
    done = 0
    try:
        for done, future in enumerate(futures):
            record(done, future.result())
        done = len(futures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        late = [i for i in range(done, len(futures)) if futures[i].done() and not futures[i].cancelled()
                and futures[i].exception() is None]
        with contextlib.suppress(OSError):  # best effort: the error that stopped the run is the one to report
            for i in late:
                record(i, futures[i].result())


def _too_small(task, outs, dropped):
    """The scales at which an image got no sub-image window (smaller than the crop)."""
    pairs = {o.pair[0] for o in outs if o.pair} | {pair[0] for pair in dropped}
    return [s for s in task.sub_scales if s not in pairs]


def _make(task, source, files, workers, progress, desc, check_todo=None, meta_dir=None):
    """Every file's outputs (see _Journal for what a rerun skips), the others made in ``workers`` processes.

    ``check_todo(files)`` checks the images that will be decoded; nothing is written before it returns.
    Returns the counts, and ``meta``: the names of the files made in ``meta_dir``.
    """
    journal = _Journal(task.journal, task.settings(source))
    finished = {src: journal.finished(task, src) for src in files}
    todo = [src for src in files if finished[src] is None]
    if check_todo:
        check_todo(todo)
    for folder in task.folders():  # what a killed run's atomic writes left
        if folder.is_dir():
            remove_temporary_files(folder)
    stats = {"images": len(files), "done": len(files) - len(todo), "written": 0, "kept": 0, "dropped": 0,
             "stale": 0, "too_small": [], "alpha": [], "meta": []}

    def tally(src, outs, dropped):
        stats["dropped"] += len(dropped)
        stats["too_small"] += [(src.name, s) for s in _too_small(task, outs, dropped)]
        if meta_dir is not None:
            stats["meta"] += [o.path.name for o in outs if o.path.parent == meta_dir]

    for src in files:
        if finished[src]:
            entry, outs = finished[src]
            stats["kept"] += len(outs)
            tally(src, outs, entry["dropped"])
    with journal.writing([finished[src][0] for src in files if finished[src]]) as add, \
            tqdm(total=len(files), initial=len(files) - len(todo), desc=desc, unit="img", file=sys.stderr,
                 dynamic_ncols=True, leave=False, disable=True if not progress or len(todo) < 2 else None) as bar:

        def record(i, result):
            src = todo[i]
            dropped = [tuple(pair) for pair in result["dropped"]]
            outs = task.plan(src.stem, *result["hw"], set(dropped))
            add({"src": src.name, "hw": list(result["hw"]), "dropped": dropped,
                 "digest": _digest([src] + [o.path for o in outs])})
            for key, value in result["counts"].items():
                stats[key] += value
            tally(src, outs, dropped)
            stats["alpha"] += [src.name] * result["alpha"]
            bar.update()

        _run_jobs(_make_one, [(task, src) for src in todo], workers, record)
    stats["meta"].sort()
    return stats


def _check_stems(files, folder):
    twice = shared_stems(files)
    if twice:
        raise DataError(f"{folder}: outputs are named by the name stem, and these images share one: {listing(twice)}")


def _check_sizes(files, folder, scales):
    """Every image large enough for the largest scale (headers only)."""
    need = 2 * max(scales)  # the LR must be at least 2x2 pixels
    small = [f"{p.name} ({h}x{w})" for p in files for h, w in [image_size(p)] if min(h, w) < need]
    if small:
        raise DataError(f"{folder}: image(s) smaller than {need}x{need} (twice the largest scale "
                        f"{max(scales)}): {listing(small, sep=', ')}")


def _check_eight_bit(files, folder):
    """The layout's LR is MATLAB's bicubic on 8-bit levels, as published results use: a 16-bit HR would lose
    its low byte."""
    deep = [p.name for p in files if stored_bit_depth(p) > 8]
    if deep:
        raise DataError(f"{folder}: 16-bit image(s) {listing(deep, sep=', ')}: a benchmark layout is 8-bit and would "
                        "drop their low byte; convert them to 8-bit first, or crop them as 16-bit training images "
                        "with --subimages --input")


def _check_layout_images(files, folder, scales):
    _check_sizes(files, folder, scales)
    _check_eight_bit(files, folder)


def _check_meta_info(meta_info):
    if Path(meta_info).is_dir():
        raise UserError(f"--meta-info {meta_info} is a folder; give the file to write")


def _write_meta_info(meta_info, names):
    """Real-ESRGAN's meta_info: one path per line, relative to the folder (dataroot_gt) the names are in."""
    write_text_atomic(meta_info, "".join(f"{name}\n" for name in names))


def _notes(stats, say):
    if stats["alpha"]:
        say(f"note: alpha channel dropped from: {listing(stats['alpha'], sep=', ')}")
    if stats["stale"]:
        say(f"warning: {stats['stale']} file(s) of sub-images now dropped (--min-gradient) are left from an earlier "
            "run; remove them if they should not be trained on")


def prepare_dataset(hr_dir, name, scales=(2, 3, 4), out="datasets", subimages=None, workers=1, say=_say, *,
                    meta_info=None, progress=True):
    """Build ``<out>/<Name>/...`` (module docstring) from the HR images in ``hr_dir``.

    subimages: a :class:`SubimageSpec` to also write X<s>/HR_sub and X<s>/LR_sub. ``say`` gets warnings and
    notes (one line each). meta_info: a file to list X<s>/HR_sub in (one scale only). Returns a summary dict:
    root, images, counts of files written / kept, sub-images dropped, images a former run finished.
    """
    scales = sorted({int(s) for s in scales})
    if not scales or scales[0] < 1:
        raise UserError(f"scales must be positive integers, got {scales}")
    name = canonical_name(name)
    hr_dir = Path(hr_dir)
    files = list_images(hr_dir, what=f"{name}: HR images (--hr)")
    _check_stems(files, hr_dir)
    if subimages is not None:
        subimages.check(scales)
    root = Path(out) / name
    # HR given in place (<out>/<Name>/HR): nothing to copy, and nothing else is added to that folder.
    task = _LayoutTask(root, tuple(scales), (root / "HR").resolve() != hr_dir.resolve(), subimages)
    meta_dir = None
    if meta_info is not None:
        if subimages is None or len(scales) != 1:
            raise UserError("--meta-info lists the sub-images of one scale: add --subimages and give one scale")
        meta_dir = root / f"X{scales[0]}" / "HR_sub"
        _check_meta_info(meta_info)
    warning = check_count(name, hr_dir, len(files))
    if warning:
        say(warning)
    if find_benchmark(name) is None:
        say(f"note: {name} is not a known set ({', '.join(BENCHMARKS)}): no image count to check")
    stats = _make(task, hr_dir, files, workers, progress, f"preparing {name}",
                  lambda todo: _check_layout_images(todo, hr_dir, scales), meta_dir)
    if meta_info is not None:
        _write_meta_info(meta_info, stats["meta"])
    _notes(stats, say)
    if stats["too_small"]:
        say(f"warning: {len(stats['too_small'])} image/scale pair(s) smaller than the sub-image crop: no sub-images")
    return {**stats, "root": root, "scales": scales}


def extract_subimages(in_dir, out_dir, subimages=None, scale=1, workers=1, say=_say, *, lr_dir=None, lr_scale=None,
                      meta_info=None, progress=True):
    """Crop every image of ``in_dir`` into ``out_dir/<stem>_sNNN.png`` (module docstring).

    scale > 1: an LR folder of that scale: crop size, step and threshold are divided by it, and a trailing
    ``x<scale>`` in the names is kept at the end (``0001x4.png`` -> ``0001_s001x4.png``). lr_dir: also write
    the LR of each HR sub-image to ``lr_dir/<stem>_sNNNx<lr_scale>.png``, cut from the MATLAB-bicubic LR of the
    image mod-cropped to ``lr_scale`` (the HR windows are taken from that mod-crop too). meta_info: a file to
    list the HR sub-images in (Real-ESRGAN's format). Returns a summary dict as :func:`prepare_dataset`.
    """
    subimages = subimages or SubimageSpec()
    scale = int(scale)
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    folders = [out_dir]
    if lr_dir is not None:
        lr_dir, lr_scale = Path(lr_dir), int(lr_scale or 0)
        if scale != 1:
            raise UserError(f"--lr-output makes LR crops of an HR folder: drop --scale {scale}")
        if lr_scale < 2:
            raise UserError("--lr-output needs the LR's scale: give one scale >= 2 in --scales (e.g. --scales 4)")
        folders.append(lr_dir)
    subimages.check([scale] + ([lr_scale] if lr_dir else []))
    if subimages.min_gradient > 0 and scale > 1:
        raise UserError(f"--min-gradient with --scale {scale}: LR crops would be dropped apart from their HR crops; "
                        "crop the HR folder with --lr-output DIR --scales S instead")
    for i, folder in enumerate(folders):
        flag = "--output" if i == 0 else "--lr-output"
        if folder.resolve() == in_dir.resolve():
            raise UserError(f"{flag} {folder} is the input folder: choose another one")
        if i and folder.resolve() == out_dir.resolve():
            raise UserError(f"--lr-output {folder} is the --output folder: choose another one")
    files = list_images(in_dir, what="images to crop (--input)")
    _check_stems(files, in_dir)
    if meta_info is not None:
        _check_meta_info(meta_info)
    task = _CropTask(out_dir, scale, subimages.divided(scale), lr_dir, lr_scale if lr_dir else 1,
                     subimages.min_gradient)
    stats = _make(task, in_dir, files, workers, progress, "cropping", meta_dir=out_dir if meta_info else None)
    if meta_info is not None:
        _write_meta_info(meta_info, stats["meta"])
    _notes(stats, say)
    if stats["too_small"]:
        size = subimages.crop_size // scale
        small = [name for name, _s in stats["too_small"]]
        say(f"warning: {len(small)} image(s) smaller than the {size}x{size} crop were skipped: "
            f"{listing(small, sep=', ')}")
    return {**stats, "root": out_dir}


# ---- verifying a prepared layout -----------------------------------------------------------------------------


def verify_layout(name, out="datasets", scales=None):
    """Check ``<out>/<Name>/X<s>/{HR,LR}``: pairs, sizes (HR = LR x s) and the known image count; and the pairs
    of X<s>/{HR_sub,LR_sub} where there are sub-images.

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
        problems += _sub_pairs(root / f"X{s}", s)
    return problems, warnings


def _stems(folder):
    return {p.stem for p in folder.iterdir() if p.is_file() and is_image_file(p)} if folder.is_dir() else set()


def _sub_pairs(x_dir, s):
    """X<s>/HR_sub and X<s>/LR_sub, when there: every sub-image has its partner (names only: one listing each,
    cheap for a million crops; their sizes are what the tool wrote)."""
    hr_dir, lr_dir = x_dir / "HR_sub", x_dir / "LR_sub"
    if not hr_dir.is_dir() and not lr_dir.is_dir():
        return []
    hrs, lrs = _stems(hr_dir), _stems(lr_dir)
    unpaired = sorted(f"{stem}x{s}" for stem in hrs if f"{stem}x{s}" not in lrs)
    extra = sorted(stem for stem in lrs if not (stem.endswith(f"x{s}") and stem[: -len(f'x{s}')] in hrs))
    problems = []
    if unpaired:
        problems.append(f"{lr_dir}: no LR sub-image for {len(unpaired)} HR sub-image(s): {listing(unpaired, sep=', ')}")
    if extra:
        problems.append(f"{lr_dir}: {len(extra)} LR sub-image(s) without an HR sub-image: {listing(extra, sep=', ')}")
    return problems


"""Training/validation datasets: GT/LQ folder pairs, or GT folders with LQ made by MATLAB bicubic on the fly.

Both check the whole folder when built (pairing, sizes against the scale, sizes against gt_size, and every
file decoded once: srgan_kit.data.verify), so a bad dataset stops the run before training starts with a
message naming the files. Items are
``{'lq': 3xhxw, 'gt': 3xHxW float32 tensors in [0, 1], 'lq_path': str, 'gt_path': str}``; alpha is dropped.
Keyword arguments equal BasicSR's option keys so BasicSR option files work unchanged.
"""
import random
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from torch.utils.data import Dataset

from srgan_kit.data.dataset_options import check_dataset_options, check_filename_tmpl, check_io_backend
from srgan_kit.data.degradation import downsample_crop, imresize, mod_crop
from srgan_kit.data.image_store import open_store
from srgan_kit.data.degradation_keys import KERNEL_DEFAULTS
from srgan_kit.data.realworld import draw_kernels, kernel_settings
from srgan_kit.data.transforms import augment, check_gt_size, check_pair_shapes, paired_random_crop, to_tensor
from srgan_kit.errors import DataError, OptionError, listing
from srgan_kit.registry import DATASETS

PHASES = ("train", "val", "test")
TILE_STREAM = 0x5EED_7115  # RealESRGANPairedDataset: the tile's seed, apart from the ready-made pair's


class SampleKey(NamedTuple):
    """What the training sampler hands a dataset: the item and the seed of that sample's own randomness
    (crop position, flips), so a sample is augmented the same whatever process or worker loads it."""

    index: int
    seed: int


def sample_key(key):
    """(index, random source): the sample's own generator for a SampleKey, the global one for a plain index."""
    if isinstance(key, SampleKey):
        return key.index, random.Random(key.seed)
    return key, random


@dataclass(frozen=True)
class Sampling:
    """How training items are cut and augmented, and which images are left out (BasicSR's keys).

    Validation and test sets use whole images without flips: there only the skip options apply."""

    gt_size: int = None
    use_hflip: bool = False
    use_rot: bool = False
    skip_small: bool = False
    skip_bad_images: bool = False


class _SRDataset(Dataset):
    """What every dataset shares: option checks, the size filter, augmentation and the item dict."""

    check_arguments = staticmethod(check_dataset_options)  # the option loader runs it too

    def __init__(self, scale, phase, sampling, io_backend, name):
        self.name = name
        self.label = f"dataset {name!r}" if name else type(self).__name__
        if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
            raise OptionError(f"{self.label}: scale must be a positive integer, got {scale!r}")
        if phase not in PHASES:
            raise OptionError(f"{self.label}: phase must be one of {', '.join(PHASES)}, got {phase!r}")
        check_io_backend(io_backend)
        self.io_backend = io_backend
        self.stores = {}  # role ('gt', 'lq') -> where its images are read (srgan_kit.data.image_store)
        self.scale = scale
        self.phase = phase
        self.train = phase == "train"
        self.sampling = sampling
        # gt_size, flips and rotations only matter while training; validation uses whole images
        self.gt_size = sampling.gt_size if self.train else None
        if self.gt_size is not None:
            check_gt_size(self.gt_size, scale, where=f"{self.label}: gt_size")
        self.use_hflip = bool(sampling.use_hflip)
        self.use_rot = bool(sampling.use_rot)
        self.skip_small = bool(sampling.skip_small)
        self.skip_bad_images = bool(sampling.skip_bad_images)

    def _drop_small(self, items, gt_hw_of):
        """Items whose (mod-cropped) GT is smaller than gt_size: error naming them, or skipped with a warning."""
        if self.gt_size is None:
            return items
        small = [(it, gt_hw_of(it)) for it in items if min(gt_hw_of(it)) < self.gt_size]
        if not small:
            return items
        names = [f"{it['gt_path']} ({h}x{w})" for it, (h, w) in small]
        if not self.skip_small:
            raise DataError(
                f"{self.label}: {len(small)} GT image(s) smaller than gt_size {self.gt_size}: {listing(names)} "
                f"(remove them, or set skip_small: true)"
            )
        warnings.warn(
            f"{self.label}: skipped {len(small)} GT image(s) smaller than gt_size {self.gt_size}: {listing(names)}",
            UserWarning,
            stacklevel=3,
        )
        kept = [it for it in items if min(gt_hw_of(it)) >= self.gt_size]
        if not kept:
            raise DataError(f"{self.label}: every GT image is smaller than gt_size {self.gt_size}; none left")
        return kept

    def _drop_bad(self, items):
        """Every file decoded once (srgan_kit.data.verify): a bad one is an error, or with skip_bad_images its
        items are left out with one warning (the training log records it)."""
        bad = []
        for role, store in self.stores.items():
            paths = {it[f"{role}_path"] for it in items}
            bad += store.verify(paths, self.label, raise_errors=not self.skip_bad_images)
        if not bad:
            return items
        warnings.warn(f"{self.label}: skipped {len(bad)} image(s) that cannot be decoded (skip_bad_images): "
                      f"{listing(bad)}", UserWarning, stacklevel=3)
        kept = [it for it in items if not ({it["gt_path"], it["lq_path"]} & set(bad))]
        if not kept:
            raise DataError(f"{self.label}: no image can be decoded; none left")
        return kept

    def __len__(self):
        return len(self.items)

    def _finish(self, gt, lq, item, rng):
        if self.train and (self.use_hflip or self.use_rot):
            gt, lq = augment([gt, lq], hflip=self.use_hflip, rot=self.use_rot, rng=rng)
        out = {"lq": to_tensor(lq), "gt": to_tensor(gt), "lq_path": item["lq_path"], "gt_path": item["gt_path"]}
        if rng is not random:  # the sample's own random stream, for noise drawn later in the step (WGAN-GP)
            out["noise_seed"] = rng.getrandbits(62)
        return out


@DATASETS.register()
class PairedImageDataset(_SRDataset):
    """GT and LQ folders paired by name: LQ ``filename_tmpl.format(gt_stem)`` (e.g. "{}x4": baby -> babyx4).

    The LQ has the GT's extension, or any image extension if only one such file exists. A GT whose size is not
    a multiple of the scale is cropped at the bottom/right to LQ size x scale.
    """

    def __init__(self, dataroot_gt, dataroot_lq, scale, *, phase="train", filename_tmpl="{}", gt_size=None,
                 use_hflip=False, use_rot=False, skip_small=False, io_backend=None, name=None, skip_bad_images=False):
        super().__init__(scale, phase, Sampling(gt_size, use_hflip, use_rot, skip_small, skip_bad_images),
                         io_backend, name)
        check_filename_tmpl(filename_tmpl)
        self.filename_tmpl = filename_tmpl
        if not isinstance(dataroot_gt, (str, Path)):
            raise OptionError(f"{self.label}: dataroot_gt: one folder (its images pair by name with dataroot_lq's); "
                              "lists of folders are for GT-only datasets (GTOnlyDataset, RealESRGANDataset)")
        gt_store = open_store(dataroot_gt, io_backend, f"{self.label}: GT images (dataroot_gt)")
        lq_store = open_store(dataroot_lq, io_backend, f"{self.label}: LQ images (dataroot_lq)")
        self.stores = {"gt": gt_store, "lq": lq_store}
        items = self._pair([Path(p) for p in gt_store.paths()], [Path(p) for p in lq_store.paths()],
                           Path(dataroot_lq))
        sizes = {}
        for it in items:
            gt_hw, lq_hw = gt_store.size(it["gt_path"]), lq_store.size(it["lq_path"])
            sizes[it["gt_path"]] = check_pair_shapes(gt_hw, lq_hw, scale, it["gt_path"], it["lq_path"])
        self.items = self._drop_small(items, lambda it: sizes[it["gt_path"]])
        self.items = self._drop_bad(self.items)

    def _pair(self, gt_paths, lq_paths, lq_root):
        by_name = {p.name: p for p in lq_paths}
        by_stem = {}
        for p in lq_paths:
            by_stem.setdefault(p.stem, []).append(p)
        items, missing, used = [], [], set()
        for gt in gt_paths:
            stem = self.filename_tmpl.format(gt.stem)
            lq = by_name.get(stem + gt.suffix)
            if lq is None and len(by_stem.get(stem, ())) == 1:
                lq = by_stem[stem][0]
            if lq is None:
                missing.append(f"{gt} (expected {lq_root / (stem + gt.suffix)})")
                continue
            used.add(lq)
            items.append({"gt_path": str(gt), "lq_path": str(lq)})
        if missing:
            raise DataError(
                f"{self.label}: {len(missing)} GT image(s) have no LQ partner (filename_tmpl "
                f"{self.filename_tmpl!r}): {listing(missing)}"
            )
        unused = [str(p) for p in lq_paths if p not in used]
        if unused:
            warnings.warn(f"{self.label}: {len(unused)} LQ image(s) have no GT partner and are not used: "
                          f"{listing(unused)}", UserWarning, stacklevel=3)
        return items

    def __getitem__(self, key):
        index, rng = sample_key(key)
        item = self.items[index]
        gt = self.stores["gt"].load(item["gt_path"]).rgb
        lq = self.stores["lq"].load(item["lq_path"]).rgb
        h, w = check_pair_shapes(gt.shape, lq.shape, self.scale, item["gt_path"], item["lq_path"])
        gt = gt[:h, :w]
        if self.gt_size is not None:
            gt, lq = paired_random_crop(gt, lq, self.gt_size, self.scale, item["gt_path"], item["lq_path"], rng)
        return self._finish(gt, lq, item, rng)


def _quantize(img, bit_depth):
    # An LQ made on the fly should look like one read from a file: clipped and on the source's grey levels.
    peak = np.float32(65535.0 if bit_depth == 16 else 255.0)
    return np.round(np.clip(img, 0.0, 1.0) * peak) / peak


@DATASETS.register()
class GTOnlyDataset(_SRDataset):
    """A folder of GT images; each LQ is the (mod-cropped) GT down-sampled by MATLAB-style bicubic.

    While training, only the patch's region (plus a small margin) is resized: the LQ patch equals the
    matching patch of the whole down-sampled image. LQ values are clipped and rounded to the GT's grey levels,
    like an LR image saved to disk. ``lq_path`` is the GT path.
    """

    def __init__(self, dataroot_gt, scale, *, phase="train", gt_size=None, use_hflip=False, use_rot=False,
                 skip_small=False, io_backend=None, name=None, skip_bad_images=False):
        super().__init__(scale, phase, Sampling(gt_size, use_hflip, use_rot, skip_small, skip_bad_images),
                         io_backend, name)
        store = open_store(dataroot_gt, io_backend, f"{self.label}: GT images (dataroot_gt)")
        self.stores = {"gt": store}
        items, sizes, tiny = [], {}, []
        for p in store.paths():
            h, w = store.size(p)
            if h < scale or w < scale:
                tiny.append(f"{p} ({h}x{w})")
            sizes[str(p)] = (h - h % scale, w - w % scale)
            items.append({"gt_path": str(p), "lq_path": str(p)})
        if tiny:
            raise DataError(f"{self.label}: GT image(s) smaller than the scale {scale}: {listing(tiny)}")
        self.items = self._drop_small(items, lambda it: sizes[it["gt_path"]])
        self.items = self._drop_bad(self.items)

    def __getitem__(self, key):
        index, rng = sample_key(key)
        item = self.items[index]
        img = self.stores["gt"].load(item["gt_path"])
        gt = mod_crop(img.rgb, self.scale)
        s = self.scale
        if self.gt_size is not None:
            lq_size = self.gt_size // s
            h_lq, w_lq = gt.shape[0] // s, gt.shape[1] // s
            if min(h_lq, w_lq) < lq_size:  # the file changed since the dataset was built
                raise DataError(f"{self.label}: GT {item['gt_path']} is smaller than gt_size {self.gt_size}")
            top, left = rng.randint(0, h_lq - lq_size), rng.randint(0, w_lq - lq_size)
            lq = downsample_crop(gt, s, top, left, lq_size, lq_size)
            gt = gt[top * s : (top + lq_size) * s, left * s : (left + lq_size) * s]
        else:
            lq = imresize(gt, 1.0 / s)
        return self._finish(gt, _quantize(lq, img.bit_depth), item, rng)


def _meta_info_paths(meta_info, root, label):
    """Real-ESRGAN's meta_info file: one image path (relative to dataroot_gt) per line, first field."""
    path = Path(meta_info)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise DataError(f"{label}: meta_info {path}: {err.strerror or err}") from None
    names = [line.split()[0] for line in lines if line.strip()]
    missing = [str(Path(root) / n) for n in names if not (Path(root) / n).is_file()]
    if missing:
        raise DataError(f"{label}: meta_info {path} lists {len(missing)} missing file(s): {listing(missing)}")
    if not names:
        raise DataError(f"{label}: meta_info {path} lists no image")
    return [Path(root) / n for n in names]


@DATASETS.register()
class RealESRGANDataset(_SRDataset):
    """HR images only, for Real-ESRGAN's second-order degradation (srgan_kit.data.realworld).

    Each item is a ``crop_pad_size`` tile of a GT image (reflect-padded when smaller, randomly cropped when
    larger), flipped/rotated, with the sample's two blur kernels and final sinc filter drawn here (in the data
    workers); the LQ is made from a whole batch on the training device by the model's degradation stage.
    Keys equal Real-ESRGAN's; the kernel keys are declared in ``keyword_options`` (the registry reads them as
    constructor parameters) with Real-ESRGAN's values as defaults.
    """

    keyword_options = KERNEL_DEFAULTS

    def __init__(self, dataroot_gt, scale, *, phase="train", meta_info=None, gt_size=None, use_hflip=True,
                 use_rot=False, crop_pad_size=400, skip_small=False, io_backend=None, name=None,
                 skip_bad_images=False, **kernel_opt):
        super().__init__(scale, phase, Sampling(gt_size, use_hflip, use_rot, skip_small, skip_bad_images),
                         io_backend, name)
        unknown = sorted(set(kernel_opt) - set(self.keyword_options))
        if unknown:
            raise OptionError(f"{self.label}: unknown key(s) {', '.join(unknown)}")
        self.kernels = kernel_settings(kernel_opt)  # every value checked by its key (data.degradation_keys)
        self.crop_pad_size = crop_pad_size
        if self.gt_size is not None and crop_pad_size < self.gt_size:
            raise OptionError(f"{self.label}: crop_pad_size {crop_pad_size} is smaller than gt_size {self.gt_size}")
        store = open_store(dataroot_gt, io_backend, f"{self.label}: GT images (dataroot_gt)")
        self.stores = {"gt": store}
        if meta_info and store.backend == "lmdb":
            warnings.warn(f"{self.label}: meta_info {meta_info} is not used with io_backend lmdb (the LMDB's own "
                          "meta_info.txt lists its images)", UserWarning, stacklevel=2)
            meta_info = None
        if meta_info and not isinstance(dataroot_gt, (str, Path)):
            raise OptionError(f"{self.label}: dataroot_gt: one folder with meta_info (its paths are relative to it)")
        paths = _meta_info_paths(meta_info, dataroot_gt, self.label) if meta_info else store.paths()
        self.items = self._drop_bad([{"gt_path": str(p), "lq_path": str(p)} for p in paths])

    def _tile(self, img, rng):
        size = self.crop_pad_size
        h, w = img.shape[:2]
        if h < size or w < size:  # small images are mirrored out to the tile size
            pad_h, pad_w = max(0, size - h), max(0, size - w)
            img = np.pad(img, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
            h, w = img.shape[:2]
        top, left = rng.randint(0, h - size), rng.randint(0, w - size)
        return img[top:top + size, left:left + size]

    def __getitem__(self, key):
        index, rng = sample_key(key)
        item = self.items[index]
        gt = self.stores["gt"].load(item["gt_path"]).rgb
        if self.train and (self.use_hflip or self.use_rot):
            gt = augment([gt], hflip=self.use_hflip, rot=self.use_rot, rng=rng)[0]
        gt = self._tile(gt, rng)
        return {"gt": to_tensor(gt), "gt_path": item["gt_path"], "lq_path": item["lq_path"],
                **draw_kernels(self.kernels, rng.getrandbits(62)), "noise_seed": rng.getrandbits(62)}


@DATASETS.register()
class RealESRGANPairedDataset(RealESRGANDataset):
    """RealESRGANDataset's HR tiles and kernels, and with each item a ready-made pair (``paired_lq``,
    ``paired_gt``: a ``gt_size`` crop of PairedImageDataset over ``paired_dataroot_gt`` (default: dataroot_gt)
    and ``dataroot_lq``, paired by ``filename_tmpl``). The model's top-level ``dataroot_lq_prob`` says what share
    of the batches train on these pairs instead of degraded ones. The pairs are indexed modulo their number, so
    the two folders need not hold as many images. Each pair is the one PairedImageDataset gives for the same
    sample (crop, flips, ``paired_noise_seed``), so a run on these pairs alone trains as model_type gan does."""

    def __init__(self, dataroot_gt, dataroot_lq, scale, *, phase="train", paired_dataroot_gt=None,
                 filename_tmpl="{}", meta_info=None, gt_size=None, use_hflip=True, use_rot=False, crop_pad_size=400,
                 skip_small=False, io_backend=None, name=None, skip_bad_images=False, **kernel_opt):
        super().__init__(dataroot_gt, scale, phase=phase, meta_info=meta_info, gt_size=gt_size, use_hflip=use_hflip,
                         use_rot=use_rot, crop_pad_size=crop_pad_size, skip_small=skip_small, io_backend=io_backend,
                         name=name, skip_bad_images=skip_bad_images, **kernel_opt)
        if self.train and self.gt_size is None:
            raise OptionError(f"{self.label}: gt_size is required (the size the ready-made pairs are cropped to)")
        self.paired = PairedImageDataset(paired_dataroot_gt or dataroot_gt, dataroot_lq, scale, phase=phase,
                                         filename_tmpl=filename_tmpl, io_backend=io_backend, name=name,
                                         **asdict(self.sampling))

    def __getitem__(self, key):
        if isinstance(key, SampleKey):
            # The pair takes the sample's own seed, so it is the crop and flips PairedImageDataset hands out for
            # this key; the tile and kernels take a stream of their own.
            item = super().__getitem__(key._replace(seed=key.seed ^ TILE_STREAM))
            pair = self.paired[key._replace(index=key.index % len(self.paired))]
            item["paired_noise_seed"] = pair["noise_seed"]
        else:
            item, pair = super().__getitem__(key), self.paired[key % len(self.paired)]
        return {**item, "paired_lq": pair["lq"], "paired_gt": pair["gt"], "paired_lq_path": pair["lq_path"],
                "paired_gt_path": pair["gt_path"]}

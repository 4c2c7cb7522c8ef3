"""Paired benchmark sets: which LR (or SR) image belongs to which GT image.

- ``DatasetSpec(name, lr_dir, gt_dir, lr_tmpl='{}x{scale}')``: a paired set. The LR file of GT ``baby.png`` is
  the image in ``lr_dir`` whose stem is ``lr_tmpl.format('baby', scale=scale)`` (``babyx4.*``), any extension.
  ``lr_dir=None``: the LR is made from the (mod-cropped) GT by MATLAB bicubic and rounded to 8-bit levels, as
  ``GTOnlyDataset`` does.
- ``resolve_datasets(names, scale, root='datasets') -> [DatasetSpec]``: names of sets laid out by
  ``tools/prepare_datasets.py`` as ``<root>/<Name>/X<scale>/{HR,LR}`` (known names and aliases such as BSD100
  -> B100 come from :mod:`srgan_kit.data.catalogue`; folder names match case-insensitively). A missing folder
  is a DataError naming it and the prepare_datasets command that makes it.
- ``datasets_from_options(opt)``: an option file's val/test sets; ``default_dataset_name(gt_dir)``.
"""
from dataclasses import dataclass
from pathlib import Path

from srgan_kit.data import catalogue
from srgan_kit.data.imageio import IMAGE_EXTENSIONS, list_images
from srgan_kit.errors import DataError, UserError, listing
from srgan_kit.eval.conventions import split_names

# GT folder names that say nothing about the set (datasets/Set5/X4/HR): the set's name is further up.
_GENERIC_FOLDERS = {"hr", "gt", "lr", "sr", "hr_sub", "lr_sub"}



@dataclass
class DatasetSpec:
    """A paired benchmark set; ``lr_dir=None`` makes each LR from its GT (MATLAB bicubic, 8-bit levels)."""

    name: str
    lr_dir: Path | None
    gt_dir: Path
    lr_tmpl: str = "{}x{scale}"

    def __post_init__(self):
        self.lr_dir = None if self.lr_dir is None else Path(self.lr_dir)
        self.gt_dir = Path(self.gt_dir)


def _find_folder(root, name):
    """``root/name``, or the one folder in ``root`` whose name matches ``name`` ignoring case."""
    exact = root / name
    if exact.is_dir():
        return exact
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir() and child.name.lower() == name.lower():
                return child
    return exact


def resolve_datasets(names, scale, root="datasets"):
    """``[DatasetSpec]`` for set names laid out as ``<root>/<Name>/X<scale>/{HR,LR}`` (see the module docstring)."""
    root = Path(root)
    specs = []
    for given in split_names(names):
        name = catalogue.canonical_name(given)
        folder = _find_folder(root, name) / f"X{scale}"
        hr, lr = folder / "HR", folder / "LR"
        missing = [p for p in (hr, lr) if not p.is_dir()]
        if missing:
            known = catalogue.find_benchmark(name)
            where = f"; where to download it: python tools/prepare_datasets.py --download {name}" if known else ""
            raise DataError(
                f"dataset {given}: folder {missing[0]} does not exist. Make it with: python tools/prepare_datasets.py "
                f"--hr <folder of {name} HR images> --name {name} --scales {scale} --out {root}{where}"
            )
        specs.append(DatasetSpec(folder.parent.name, lr, hr, f"{{}}x{scale}"))
    if not specs:
        raise UserError("no dataset named (e.g. --datasets Set5,Set14)")
    return specs


def default_dataset_name(gt_dir):
    """A readable name for a GT folder: its own name, or the set's name above generic ones (Set5/X4/HR -> Set5)."""
    path = Path(gt_dir).resolve()
    for part in (path, *path.parents):
        name = part.name
        if name and name.lower() not in _GENERIC_FOLDERS and not _is_scale_folder(name):
            return name
    return path.name or "dataset"


def _is_scale_folder(name):
    return len(name) > 1 and name[0] in "xX" and name[1:].isdigit()


def datasets_from_options(opt):
    """The validation / test sets of a loaded option dict (``datasets.val*`` / ``test*``) as DatasetSpecs."""
    specs = []
    for key, ds in (opt.get("datasets") or {}).items():
        if key == "train" or not ds.get("dataroot_gt"):
            continue
        specs.append(DatasetSpec(ds.get("name") or key, ds.get("dataroot_lq"), ds["dataroot_gt"],
                                 ds.get("filename_tmpl") or "{}"))
    return specs


def _template_stem(tmpl, stem, scale, what):
    try:
        out = tmpl.format(stem, scale=scale)
        other = tmpl.format(stem + "_other", scale=scale)
    except (IndexError, KeyError, ValueError) as exc:
        raise UserError(f"{what} {tmpl!r}: not a valid template ({exc}); use '{{}}' for the GT name") from None
    if out == other:
        raise UserError(f"{what} {tmpl!r} must contain '{{}}' (the GT name), e.g. '{{}}x4' or '{{}}_out'")
    if Path(out).suffix.lower() in IMAGE_EXTENSIONS:  # '{}_x4.png': the extension is matched anyway
        out = out[: -len(Path(out).suffix)]
    return out


def _index_by_stem(folder, what):
    index = {}
    for path in list_images(folder, what=what):
        if path.stem in index:
            raise DataError(f"{what}: {index[path.stem].name} and {path.name} in {folder} have the same name stem")
        index[path.stem] = path
    return index


def match_pairs(gt_dir, other_dir, tmpl, scale, what, role):
    """[(gt stem, other path, gt path)] for every GT image; DataError listing the GT images without a match."""
    gts = _index_by_stem(gt_dir, f"{what}: GT images")
    others = _index_by_stem(other_dir, f"{what}: {role} images")
    pairs, missing = [], []
    for stem, gt_path in gts.items():
        want = _template_stem(tmpl, stem, scale, f"{what}: {role} filename template")
        if want in others:
            pairs.append((stem, others[want], gt_path))
        else:
            missing.append(f"{want}.* (for {gt_path.name})")
    if missing:
        shown = listing(missing, sep=", ")
        raise DataError(f"{what}: missing {role} image(s) in {other_dir}: {shown} (template {tmpl!r})")
    return pairs


def set_pairs(spec, scale):
    if spec.lr_dir is None:
        return [(p.stem, None, p) for p in _index_by_stem(spec.gt_dir, f"{spec.name}: GT images").values()]
    return match_pairs(spec.gt_dir, spec.lr_dir, spec.lr_tmpl, scale, spec.name, "LR")

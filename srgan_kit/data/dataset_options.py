"""Rules for dataset option values that need no files and no torch: the option loader runs them on a file's
dataset entries, and the dataset classes (srgan_kit.data.datasets) when they are built."""
from srgan_kit.data.degradation_keys import check_kernel_options
from srgan_kit.errors import ArgumentError


BACKEND_TYPES = ("disk", "lmdb")


def check_io_backend(io_backend):
    """Image folders ({type: disk}, the default) or LMDBs in BasicSR's layout ({type: lmdb})."""
    if io_backend is None:
        return
    backend = io_backend.get("type", "disk") if isinstance(io_backend, dict) else io_backend
    if backend not in BACKEND_TYPES or (isinstance(io_backend, dict) and set(io_backend) - {"type"}):
        raise ArgumentError("io_backend", f"{io_backend!r} is not supported; srgan_kit reads image folders "
                                          "(io_backend: {type: disk}, or leave it out) and LMDBs "
                                          "(io_backend: {type: lmdb})")


def check_filename_tmpl(tmpl):
    """A template with one '{}' where the GT's name goes, that tells names apart."""
    try:
        ok = isinstance(tmpl, str) and "{}" in tmpl and tmpl.format("a") != tmpl.format("b")
    except (IndexError, KeyError, ValueError):
        ok = False
    if not ok:
        raise ArgumentError("filename_tmpl", f"must be a string with one '{{}}' for the GT name (e.g. '{{}}x4'), "
                                             f"got {tmpl!r}")


def check_dataset_options(options):
    """Every rule above that applies to a dataset entry ({key: value})."""
    check_io_backend(options.get("io_backend"))
    if "filename_tmpl" in options:
        check_filename_tmpl(options["filename_tmpl"])
    check_kernel_options(options)  # RealESRGANDataset's kernel keys (other types have none)

"""Rules for dataset option values that need no files and no torch: the option loader runs them on a file's
dataset entries, and the dataset classes (srgan_kit.data.datasets) when they are built."""
from srgan_kit.errors import ArgumentError


def check_io_backend(io_backend):
    """Only image folders are read: io_backend may be left out or say {type: disk}."""
    if io_backend is None:
        return
    backend = io_backend.get("type", "disk") if isinstance(io_backend, dict) else io_backend
    if backend != "disk" or (isinstance(io_backend, dict) and set(io_backend) - {"type"}):
        raise ArgumentError("io_backend", f"{io_backend!r} is not supported; srgan_kit reads image folders only "
                                          "(io_backend: {type: disk}, or leave it out)")


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

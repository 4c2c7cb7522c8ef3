"""Where a dataset's images live: a folder of image files, or an LMDB (srgan_kit.data.lmdb_backend), behind one
small interface the datasets use.

A store lists its images as path-like names (sorted), tells an image's (height, width) cheaply, loads one as a
:class:`~srgan_kit.data.imageio.LoadedImage` and decodes a set of them once before training (verify). The
backend comes from the dataset's ``io_backend`` option, BasicSR's key: ``{type: disk}`` (the default) or
``{type: lmdb}``.
"""
from pathlib import Path

from srgan_kit.data.imageio import image_size, list_images, load_image
from srgan_kit.data.verify import verify_images
from srgan_kit.errors import DataError


class FolderStore:
    """Image files directly inside a folder (or a list of folders, one after the other)."""

    backend = "disk"

    def __init__(self, root, what):
        self.root, self.what = root, what
        for one in root if isinstance(root, (list, tuple)) else [root]:
            if (Path(one) / "data.mdb").is_file():
                raise DataError(f"{what}: {one} is an LMDB; read it with io_backend: {{type: lmdb}}")

    def paths(self):
        """The folder's images, sorted (listed when asked: a meta_info file may name the images instead)."""
        return [str(p) for p in list_images(self.root, self.what)]

    def size(self, path):
        return image_size(path)

    def load(self, path):
        return load_image(path)

    def verify(self, paths, what, raise_errors=True):
        return verify_images(paths, what, raise_errors=raise_errors)


def _lmdb_store(root, what):
    from srgan_kit.data.lmdb_backend import LmdbStore  # the lmdb package is only needed by LMDB datasets

    return LmdbStore(root, what)


BACKENDS = {"disk": FolderStore, "lmdb": _lmdb_store}


def backend_of(io_backend):
    """The backend name an ``io_backend`` option value asks for (checked by dataset_options.check_io_backend)."""
    if io_backend is None:
        return "disk"
    return io_backend.get("type", "disk") if isinstance(io_backend, dict) else io_backend


def open_store(root, io_backend, what):
    """The store of ``root`` (a folder, list of folders, or an LMDB folder) for the ``io_backend`` option;
    ``what`` names its role in messages (e.g. "dataset 'DIV2K': GT images (dataroot_gt)")."""
    return BACKENDS[backend_of(io_backend)](root, what)

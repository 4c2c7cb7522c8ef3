"""Reading image LMDBs in BasicSR's layout: ``NAME.lmdb/{data.mdb, lock.mdb, meta_info.txt}``.

Each value is an encoded image (PNG for the LMDBs BasicSR and ``tools/create_lmdb.py`` make) under the key
``name`` without its extension; ``meta_info.txt`` lists one image per line as ``name.png (h,w,c) compression``.
The environment is opened read-only and without locks (many readers, no writer), once per process; the main
process closes it after checking a dataset, so each data worker opens its own.
"""
import re
import threading
from pathlib import Path

from srgan_kit.data.imageio import as_loaded, decode_bytes
from srgan_kit.data.verify import verify_images
from srgan_kit.errors import DataError, listing

META_INFO = "meta_info.txt"
_META_LINE = re.compile(r"^(?P<name>\S+)\s+\((?P<h>\d+),\s*(?P<w>\d+),\s*(?P<c>\d+)\)(?:\s+(?P<level>\d+))?\s*$")


def lmdb_key(name):
    """The LMDB key of a meta_info name: the name without its extension (BasicSR's convention)."""
    return Path(name).stem


def read_meta_info(path):
    """{name: (h, w, c)} of a meta_info.txt, in file order; DataError naming the file and line when malformed."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path.parent}: no {META_INFO} (an LMDB in BasicSR's layout lists its images there; "
                        "make one with tools/create_lmdb.py)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    entries = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        found = _META_LINE.match(line.strip())
        if not found:
            raise DataError(f"{path} line {number}: expected 'name.png (h,w,c) compression', got {line.strip()!r}")
        name = found["name"]
        if name in entries:
            raise DataError(f"{path} line {number}: {name} is listed twice")
        entries[name] = (int(found["h"]), int(found["w"]), int(found["c"]))
    if not entries:
        raise DataError(f"{path}: lists no image")
    return entries


_OPEN = {}  # resolved LMDB folder -> this process's Environment (LMDB allows one per process and file)
_OPEN_LOCK = threading.Lock()


def open_environment(root, what):
    """The read-only lmdb Environment of ``root``, opened once per process; DataError naming it when it is not
    a readable LMDB. A forked data worker whose parent still had it open reads through the inherited one (read-only
    and lock-free, which LMDB allows), since it may not open the same files a second time."""
    import lmdb

    key = str(Path(root).resolve())
    with _OPEN_LOCK:
        if key not in _OPEN:
            try:
                _OPEN[key] = lmdb.open(str(root), readonly=True, lock=False, readahead=False, meminit=False,
                                       max_readers=512)
            except lmdb.Error as err:
                raise DataError(f"{what}: {root} is not a readable LMDB ({str(err).strip()})") from None
        return _OPEN[key]


def close_environment(root):
    """Close this process's Environment of ``root`` (the main process, once a dataset is checked: its data
    workers then open their own)."""
    with _OPEN_LOCK:
        env = _OPEN.pop(str(Path(root).resolve()), None)
    if env is not None:
        env.close()


class LmdbStore:
    """The images of one LMDB; their path-like names are ``<root>/<meta_info name>`` (so a validation image is
    named after its key, like a file)."""

    backend = "lmdb"

    def __init__(self, root, what):
        if isinstance(root, (list, tuple)):
            raise DataError(f"{what}: io_backend lmdb reads one LMDB folder, not a list ({listing(root)})")
        self.root, self.what = Path(root), what
        if not self.root.is_dir():
            raise DataError(f"{what}: LMDB folder {self.root} does not exist")
        if not (self.root / "data.mdb").is_file():
            raise DataError(f"{what}: {self.root} is not an LMDB (no data.mdb in it); for a folder of images "
                            "use io_backend: {type: disk}")
        meta = read_meta_info(self.root / META_INFO)
        self._shapes = {str(self.root / name): shape for name, shape in sorted(meta.items())}
        self._check_keys()

    def _check_keys(self):
        keys = [lmdb_key(p) for p in self._shapes]
        try:
            with open_environment(self.root, self.what).begin(buffers=True) as txn:
                missing = [k for k in keys if txn.get(k.encode("utf-8")) is None]
        finally:
            close_environment(self.root)
        if missing:
            raise DataError(f"{self.what}: {self.root / META_INFO} names {len(missing)} key(s) that are not in "
                            f"{self.root / 'data.mdb'}: {listing(missing)}")

    def paths(self):
        return list(self._shapes)

    def size(self, path):
        h, w, _ = self._shapes[path]
        return h, w

    def read(self, path):
        """The encoded bytes of ``path``'s entry."""
        with open_environment(self.root, self.what).begin() as txn:
            value = txn.get(lmdb_key(path).encode("utf-8"))
        if value is None:
            raise DataError(f"{self.what}: {path}: the key {lmdb_key(path)!r} is not in {self.root / 'data.mdb'}")
        return value

    def decode(self, path):
        """The stored array of ``path``'s entry; its size must be the one meta_info gives."""
        img = decode_bytes(self.read(path), path)
        h, w, c = self._shapes[path]
        got = (img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2])
        if got != (h, w, c):
            raise DataError(f"cannot read image {path}: it is {got[0]}x{got[1]}x{got[2]} but {META_INFO} says "
                            f"({h},{w},{c})")
        return img

    def load(self, path):
        return as_loaded(self.decode(path), path)

    def verify(self, paths, what, raise_errors=True):
        stat = (self.root / "data.mdb").stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        try:
            return verify_images(paths, what, raise_errors=raise_errors, decode=self.decode, stamp=lambda _: stamp)
        finally:
            close_environment(self.root)

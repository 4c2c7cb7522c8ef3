"""Atomic file writes: a crash or error never leaves a half-written file under its final name."""
import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_open(path, mode="wb", encoding=None, fsync=False):
    """Open a hidden temporary file beside ``path``; on success rename it over ``path``, else delete it.

    The temporary file is in the same folder (same file system), so the rename is atomic; its name starts
    with '.', so folder listings of images skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            if fsync:  # checkpoints: the data is on disk before the name points at it
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path, text):
    """Write a whole text file (UTF-8) atomically; returns its Path."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)

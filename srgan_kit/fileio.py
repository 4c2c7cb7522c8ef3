"""Atomic file writes: a crash or error never leaves a half-written file under its final name."""
import contextlib
import json
import math
import os
import tempfile
from pathlib import Path


TEMP_SUFFIX = ".tmp"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode="wb", encoding=None, fsync=False):
    """Open a hidden temporary file beside ``path``; on success rename it over ``path``, else delete it.

    The temporary file is in the same folder (same file system), so the rename is atomic; its name starts
    with '.', so folder listings of images skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets what open() would give
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            if fsync:  # checkpoints: the data is on disk before the name points at it
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_temporary_files(folder):
    """Delete the hidden temporary files that interrupted atomic writes left below ``folder``; returns them."""
    stale = [p for p in Path(folder).rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def write_text_atomic(path, text):
    """Write a whole text file (UTF-8) atomically; returns its Path."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def _json_safe(value):
    """Strict-JSON form: non-finite floats as "inf" / "-inf" / "nan", numpy / torch scalars as numbers."""
    if hasattr(value, "item") and not isinstance(value, (dict, list, tuple, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # paths and the like


def write_json(path, data):
    """The project's one JSON writer: strict JSON (no Infinity / NaN tokens, see _json_safe), atomic."""
    return write_text_atomic(path, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def json_number(value):
    """A number read back from write_json's output ("inf" etc. included), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return None

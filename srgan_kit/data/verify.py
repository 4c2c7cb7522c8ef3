"""Decode every image of a dataset once before training starts: a truncated or corrupt file passes the header
checks and would otherwise stop a run at a random iteration, hours in.

Files that decoded are remembered by absolute path, size and modification time in
``$SRGAN_KIT_CACHE/verified_images.json`` (default ``~/.cache/srgan_kit``), so the next start checks only new or
changed files. Decoding runs on several threads (OpenCV releases the GIL) with a progress bar for large sets.
"""
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from srgan_kit.data.imageio import decode_image
from srgan_kit.errors import DataError, listing
from srgan_kit.fileio import write_json

def cache_file():
    root = os.environ.get("SRGAN_KIT_CACHE") or os.path.join("~", ".cache", "srgan_kit")
    return Path(root).expanduser() / "verified_images.json"


def _stamp(path):
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def _read_cache(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _problem(decode, path):
    try:
        decode(path)
    except DataError as exc:
        return str(exc)
    return None


def verify_images(paths, what, raise_errors=True, decode=None, stamp=None):
    """The files among ``paths`` that do not decode: a DataError naming them (``what`` names the set), or with
    ``raise_errors=False`` their paths as given. ``decode`` and ``stamp`` (what marks an unchanged image) default
    to files'; an LMDB passes its own (srgan_kit.data.lmdb_backend)."""
    decode, stamp = decode or decode_image, stamp or _stamp
    cache_path = cache_file()
    cache = _read_cache(cache_path)
    given = {os.path.abspath(str(p)): p for p in paths}
    todo = [path for path in given if cache.get(path) != stamp(path)]
    if not todo:
        return []
    bad, bad_paths = [], []
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool, \
            tqdm(total=len(todo), desc=f"decoding {what}", unit="img", disable=len(todo) < 64, leave=False) as bar:
        for path, problem in zip(todo, pool.map(lambda p: _problem(decode, given[p]), todo)):
            if problem:
                bad.append(problem)
                bad_paths.append(given[path])
            else:
                cache[path] = stamp(path)
            bar.update()
    try:
        write_json(cache_path, cache)
    except OSError:  # a read-only home only costs the next start the same check
        pass
    if bad and raise_errors:
        raise DataError(f"{what}: {len(bad)} image(s) cannot be decoded: {listing(bad)} (or set "
                        "skip_bad_images: true to train without them)")
    return bad_paths

"""Decode every image of a dataset once before training starts: a truncated or corrupt file passes the header
checks and would otherwise stop a run at a random iteration, hours in.

Files that decoded are remembered by absolute path, size and modification time in
``$SRGAN_KIT_CACHE/verified_images.json`` (default ``~/.cache/srgan_kit``), so the next start checks only new or
changed files. Decoding runs on threads (OpenCV and file reads release the GIL, and a monkeypatched or LMDB
decoder works unchanged), one per available CPU up to 16, with a progress bar and ETA on a terminal for sets of
64 images or more. The cache is written compact and atomically, merged with what other processes (other ranks,
other runs) wrote meanwhile, every minute during a long check and when it ends or is stopped.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from srgan_kit.data.imageio import decode_image
from srgan_kit.errors import DataError, listing
from srgan_kit.fileio import write_text_atomic

MAX_THREADS = 16
SAVE_EVERY_S = 60.0  # a check stopped part-way (Ctrl-C, a kill) keeps what it verified up to then
BAR_FROM = 64  # smaller sets decode in a blink: no bar


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


def _save_cache(path, new):
    """Add ``new`` entries to the cache file as it is now (another process may have added its own)."""
    if not new:
        return
    cache = _read_cache(path)
    cache.update(new)
    try:
        # names and integers only, so plain json; compact, since the file may hold a million entries
        write_text_atomic(path, json.dumps(cache, separators=(",", ":")))
    except OSError:  # a read-only home only costs the next start the same check
        pass


def _threads():
    try:
        cpus = len(os.sched_getaffinity(0))  # what this process may use (containers, job schedulers)
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cpus))


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
    bad, bad_paths, new = [], [], {}
    saved = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(_threads(), len(todo)))
    # tqdm shows the rate and the time left; disable=None: no bar when stderr is not a terminal (a log file)
    bar = tqdm(total=len(todo), desc=f"decoding {what}", unit="img", file=sys.stderr, dynamic_ncols=True,
               disable=True if len(todo) < BAR_FROM else None, leave=False)
    try:
        for path, problem in zip(todo, pool.map(lambda p: _problem(decode, given[p]), todo)):
            if problem:
                bad.append(problem)
                bad_paths.append(given[path])
            else:
                new[path] = stamp(path)
            bar.update()
            if time.monotonic() - saved > SAVE_EVERY_S:
                _save_cache(cache_path, new)
                new, saved = {}, time.monotonic()
    finally:
        bar.close()
        pool.shutdown(wait=False, cancel_futures=True)  # stopped early: the queued images are not decoded
        _save_cache(cache_path, new)
    if bad and raise_errors:
        raise DataError(f"{what}: {len(bad)} image(s) cannot be decoded: {listing(bad)} (or set "
                        "skip_bad_images: true to train without them)")
    return bad_paths

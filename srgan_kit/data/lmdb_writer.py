"""Writing a folder of images into an LMDB in BasicSR's layout (read by srgan_kit.data.lmdb_backend and by
basicsr's LmdbBackend alike).

Each image is stored PNG-encoded (lossless: the pixels a training run reads equal the file's) under its name
without the extension. Images are encoded in worker processes and written in transactions of
``commit_every`` images; a run stopped part-way keeps the committed ones and the same command continues from
there. ``meta_info.txt`` is written last, so an LMDB that has one is complete.
"""
import json
from multiprocessing import get_context
from pathlib import Path

import cv2
from tqdm import tqdm

from srgan_kit.data.imageio import decode_image, list_images, quantize, shared_stems
from srgan_kit.data.lmdb_backend import META_INFO, lmdb_key
from srgan_kit.errors import DataError, UserError, listing
from srgan_kit.fileio import write_json, write_text_atomic

PARTIAL = ".srgan_kit_partial.json"  # present while an LMDB is being written: what it is being made from
_MIN_MAP = 1 << 30


def encode_png(path, compress_level):
    """(key, PNG bytes, (h, w, c)) of an image file, as BasicSR stores it (float images as 16-bit)."""
    img = decode_image(path)
    if img.dtype.kind == "f":
        img = quantize(img, 16)  # clipped to [0, 1] there
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise DataError(f"cannot encode image {path} as PNG")
    h, w = img.shape[:2]
    return lmdb_key(Path(path).name), buf.tobytes(), (h, w, 1 if img.ndim == 2 else img.shape[2])


def _encode_job(job):
    return encode_png(*job)


def _check_names(paths, folder):
    twice = shared_stems(paths)
    if twice:
        raise DataError(f"{folder}: LMDB keys are names without their extension, and these images share one: "
                        f"{listing(twice)}")
    odd = [p.name for p in paths if not p.stem.isascii() or "." in p.stem or " " in p.stem]
    if odd:
        raise DataError(f"{folder}: {len(odd)} image name(s) BasicSR's LMDB readers cannot key (non-ASCII, a dot "
                        f"or a space before the extension): {listing(odd)}; rename them first")


def _check_output(out, folder, compress_level):
    """Whether ``out`` is a partial LMDB of the same folder to continue; UserError when it must not be touched."""
    if out.suffix != ".lmdb":
        raise UserError(f"-o {out}: an LMDB folder's name ends with .lmdb (BasicSR's readers require it)")
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return False
    marker = out / PARTIAL
    if (out / META_INFO).exists() or not marker.is_file():
        raise UserError(f"-o {out}: already exists and is not empty; choose another name or remove it")
    try:
        made_from = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        made_from = {}
    expected = {"input": str(folder.resolve()), "compress_level": compress_level}
    if made_from != expected:
        raise UserError(f"-o {out}: a partial LMDB of {made_from.get('input', 'another folder')} (compress level "
                        f"{made_from.get('compress_level')}); continue it with the same -i and --compress-level, "
                        "or remove it")
    return True


_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> channels (OpenCV writes no palettes)


def png_shape(data):
    """(h, w, c) from a PNG's header (its IHDR chunk)."""
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return height, width, _PNG_CHANNELS[data[25]]


def _committed(env):
    """{key: (h, w, c)} of the images a stopped run already committed."""
    with env.begin(buffers=True) as txn:
        return {bytes(key).decode("ascii"): png_shape(bytes(value[:26])) for key, value in txn.cursor()}


def create_lmdb(folder, out, workers=1, compress_level=1, commit_every=100, progress=True):
    """Write every image directly inside ``folder`` into the LMDB ``out`` (NAME.lmdb); returns a summary dict."""
    import lmdb

    folder, out = Path(folder), Path(out)
    if not 0 <= compress_level <= 9:
        raise UserError(f"--compress-level {compress_level}: PNG compression levels are 0..9")
    paths = list_images(folder, what="-i")
    _check_names(paths, folder)
    resuming = _check_output(out, folder, compress_level)
    out.mkdir(parents=True, exist_ok=True)
    if not resuming:
        write_json(out / PARTIAL, {"input": str(folder.resolve()), "compress_level": compress_level})
    total = sum(p.stat().st_size for p in paths)
    env = lmdb.open(str(out), map_size=max(_MIN_MAP, 4 * total), meminit=False)
    try:
        shapes = _committed(env)
        todo = [p for p in paths if p.stem not in shapes]
        jobs = [(str(p), compress_level) for p in todo]
        pool = get_context("spawn").Pool(workers) if workers > 1 and len(jobs) > 1 else None
        try:
            encoded = pool.imap(_encode_job, jobs, chunksize=2) if pool else map(_encode_job, jobs)
            with tqdm(total=len(paths), initial=len(paths) - len(todo), unit="img", desc=f"writing {out.name}",
                      disable=not progress) as bar:
                pending = []
                for item in encoded:
                    pending.append(item)
                    if len(pending) >= commit_every:
                        _commit(env, pending, shapes)
                        bar.update(len(pending))
                        pending = []
                _commit(env, pending, shapes)
                bar.update(len(pending))
        finally:
            if pool:
                pool.terminate()
    finally:
        env.close()
    lines = [f"{key}.png ({h},{w},{c}) {compress_level}" for key, (h, w, c) in sorted(shapes.items())]
    write_text_atomic(out / META_INFO, "\n".join(lines) + "\n")
    (out / PARTIAL).unlink(missing_ok=True)
    return {"images": len(paths), "written": len(todo), "resumed": len(paths) - len(todo), "root": str(out),
            "bytes": (out / "data.mdb").stat().st_size}


def _commit(env, items, shapes):
    """Put ``items`` in one transaction, growing the map when it is full."""
    import lmdb

    while items:
        try:
            with env.begin(write=True) as txn:
                for key, data, _ in items:
                    txn.put(key.encode("ascii"), data)
            break
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)
    shapes.update({key: shape for key, _, shape in items})

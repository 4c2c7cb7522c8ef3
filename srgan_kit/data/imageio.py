"""Reading and writing images: one decoder (OpenCV), RGB float [0, 1] in memory, errors that name the file.

Files are read as bytes and decoded with ``cv2.imdecode`` so non-ASCII paths work on every platform,
and written by encoding to bytes, then a temporary file renamed over the target (never a half-written image).
"""
import contextlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from srgan_kit.errors import DataError
from srgan_kit.fileio import atomic_open

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# What each output format can hold (OpenCV's encoders): 16-bit only in PNG/TIFF, alpha everywhere but JPEG.
_SIXTEEN_BIT_EXTS = (".png", ".tif", ".tiff")
_NO_ALPHA_EXTS = (".jpg", ".jpeg")
_MAX_BY_DTYPE = {np.dtype(np.uint8): (255.0, 8), np.dtype(np.uint16): (65535.0, 16)}


@dataclass
class LoadedImage:
    """An image as the package uses it: RGB float32 HxWx3 in [0, 1], alpha (HxW) kept apart."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int

    @property
    def shape(self):
        return self.rgb.shape


def is_image_file(path):
    path = Path(path)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder, what="images"):
    """Sorted image files directly inside ``folder`` (not recursive; hidden files such as ``._x.png`` skipped).

    ``folder`` may be a list of folders: their images one folder after the other. ``what`` names the folder's
    role in the messages (e.g. "GT images (dataroot_gt)").
    """
    if isinstance(folder, (list, tuple)):
        return [path for one in folder for path in list_images(one, what)]
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{what}: folder {folder} does not exist")
    if not folder.is_dir():
        raise DataError(f"{what}: {folder} is not a folder")
    files = [p for p in _visible_files(folder) if is_image_file(p)]
    if not files:
        raise DataError(f"{what}: folder {folder} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def non_image_files(folder):
    """The visible files directly inside ``folder`` that list_images passes over (not images by extension)."""
    folder = Path(folder)
    return [p for p in _visible_files(folder) if not is_image_file(p)] if folder.is_dir() else []


def shared_stems(paths):
    """The names of ``paths`` that share a name stem, a ", "-joined group per stem (outputs named or keyed by
    the stem would collide)."""
    stems = {}
    for p in paths:
        stems.setdefault(Path(p).stem, []).append(Path(p).name)
    return [", ".join(names) for names in stems.values() if len(names) > 1]


def _visible_files(folder):
    """Files directly inside ``folder``, sorted, without hidden ones (``.DS_Store``, ``._x.png``)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _read_bytes(path):
    try:
        return np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"cannot read image {path}: no such file") from None
    except OSError as exc:
        raise DataError(f"cannot read image {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _quiet_opencv():
    # OpenCV prints its own warning for a truncated file; our DataError already says it, once.
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        log.setLogLevel(level)


def decode_bytes(data, name):
    """An encoded image (bytes or a uint8 array) decoded as stored (HxW, HxWxC in BGR(A) order,
    uint8/uint16/float); DataError naming ``name`` (the file, or an LMDB entry) when it cannot be."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    img = None
    if data.size:
        with _quiet_opencv():
            try:
                img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            except cv2.error:
                img = None
    if img is None or img.size == 0:
        raise DataError(f"cannot read image {name}: the file is empty, corrupt or not an image")
    return img


def decode_image(path):
    """The decoded array (HxW, HxWxC in BGR(A) order, uint8/uint16/float), turned the way its EXIF orientation
    says, as image viewers show it; DataError naming ``path`` when it cannot be read."""
    img = decode_bytes(_read_bytes(path), path)
    orientation = exif_orientation(path)
    if orientation != 1 and _as_stored(path, img):
        img = np.ascontiguousarray(_ORIENT[orientation](img))
    return img


def _as_stored(path, img):
    """Whether ``img`` (OpenCV's decode: BGR(A)) still has the file's stored orientation: OpenCV turns some
    formats itself (TIFF) and not others (JPEG). Decided by which of Pillow's two readings it is closer to."""
    from PIL import Image, ImageOps

    def rgb(a):  # the colour planes only, RGB order, as floats
        a = np.asarray(a, dtype=np.float64)
        return a if a.ndim == 2 else a[..., :3] if a.shape[2] >= 3 else a[..., 0]

    ours = rgb(img[..., 2::-1] if img.ndim == 3 and img.shape[2] >= 3 else img)
    with Image.open(path) as im:
        readings = [rgb(np.asarray(im)), rgb(np.asarray(ImageOps.exif_transpose(im)))]
    far = [np.inf if r.shape != ours.shape else float(np.abs(r - ours).mean()) for r in readings]
    return far[0] < far[1]  # equal: both libraries turned it already (or turning changes nothing)


def _to_unit_float(img, path):
    if img.dtype in _MAX_BY_DTYPE:
        peak, bits = _MAX_BY_DTYPE[img.dtype]
        return img.astype(np.float32) / np.float32(peak), bits
    if img.dtype.kind == "f":
        # float TIFF/EXR: already in [0, 1] by convention; keep it precise (written back as 16-bit)
        return np.clip(img.astype(np.float32), 0.0, 1.0), 16
    raise DataError(f"cannot read image {path}: unsupported pixel type {img.dtype}")


# EXIF orientation (tag 0x0112) -> the array as a viewer displays it (PIL's exif_transpose, in numpy).
_EXIF_ORIENTATION = 0x0112
_EXIF_FORMATS = (".jpg", ".jpeg", ".tif", ".tiff", ".webp")
_ORIENT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
           6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 1)[:, ::-1], 8: lambda a: np.rot90(a, 1)}


def exif_orientation(path):
    """The EXIF orientation of a JPEG / TIFF / WebP file (1 = as stored; 1 when absent or unreadable)."""
    if Path(path).suffix.lower() not in _EXIF_FORMATS:
        return 1
    try:
        from PIL import Image

        with Image.open(path) as im:
            value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # no Pillow, or a header it cannot parse: the pixels as stored
        return 1
    return value if value in _ORIENT else 1


def load_image(path):
    """Read ``path`` as a :class:`LoadedImage` (turned as its EXIF orientation says, see decode_image);
    grayscale becomes 3 channels, alpha is returned apart."""
    return as_loaded(decode_image(path), path)


def as_loaded(img, path):
    """A decoded array (decode_bytes / decode_image) as a :class:`LoadedImage`; ``path`` names it in errors."""
    img, bits = _to_unit_float(img, path)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    alpha = None
    if img.ndim == 2:
        rgb = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 2:  # gray + alpha
        rgb = np.repeat(img[:, :, :1], 3, axis=2)
        alpha = img[:, :, 1]
    elif img.shape[2] in (3, 4):
        rgb = img[:, :, 2::-1]  # BGR -> RGB
        alpha = img[:, :, 3] if img.shape[2] == 4 else None
    else:
        raise DataError(f"cannot read image {path}: {img.shape[2]} channels (expected 1-4)")
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    if alpha is not None:
        alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return LoadedImage(rgb=rgb, alpha=alpha, bit_depth=bits)


def image_size(path):
    """(height, width) of an image as displayed, reading only its header when Pillow can (and it carries no
    EXIF orientation); DataError naming a bad file."""
    try:
        from PIL import Image  # header only: cheap checks of a whole dataset before training starts

        if exif_orientation(path) == 1:
            with Image.open(path) as im:
                w, h = im.size
            return h, w
    except Exception:  # Pillow missing or a format it cannot parse: the full decode below
        pass
    img = decode_image(path)
    return img.shape[0], img.shape[1]


_EIGHT_BIT_EXTS = (".jpg", ".jpeg", ".bmp", ".webp")  # formats OpenCV decodes at 8 bits only


def stored_bit_depth(path):
    """8 or 16: the precision ``path`` holds, as load_image reports it (float files count as 16). From the
    header of a PNG or TIFF, from the extension of a format that only holds 8 bits, else by decoding."""
    ext = Path(path).suffix.lower()
    if ext in _EIGHT_BIT_EXTS:
        return 8
    if ext == ".png":
        with open(path, "rb") as handle:
            head = handle.read(25)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return 16 if head[24] == 16 else 8
    elif ext in (".tif", ".tiff"):
        try:
            from PIL import Image

            with Image.open(path) as im:
                bits = im.tag_v2.get(258)  # BitsPerSample, one per channel
            if bits:
                return 16 if max(bits if isinstance(bits, tuple) else (bits,)) > 8 else 8
        except Exception:  # a header Pillow cannot parse: the decode below reports or reads it
            pass
    return _to_unit_float(decode_image(path), path)[1]


_CHUNK = 1 << 22  # elements converted at a time: a 12000x12000 output never gets a full float64 copy


def quantize(x, bit_depth=8):
    """Float pixels in [0, 1] -> unsigned integers on 8- or 16-bit levels (what a saved file holds)."""
    peak = 65535.0 if bit_depth == 16 else 255.0
    x = np.asarray(x)  # an image: at least one axis, cut into chunks of rows
    out = np.empty(x.shape, np.uint16 if bit_depth == 16 else np.uint8)
    rows = max(1, _CHUNK // max(1, x[0].size))
    for i in range(0, len(x), rows):
        part = x[i : i + rows].astype(np.float64)  # one float64 chunk, worked on in place
        np.clip(part, 0.0, 1.0, out=part)
        part *= peak
        out[i : i + rows] = np.round(part, out=part)  # round, not truncate (BasicSR's tensor2img convention)
        del part  # freed before the next chunk is made
    return out


def save_image(path, rgb, alpha=None, bit_depth=8):
    """Write float [0, 1] ``rgb`` (HxWx3, or HxW gray) and optional ``alpha`` (HxW) to ``path``.

    The format comes from the extension. 16-bit needs .png/.tif; alpha cannot go into .jpg.
    The file appears atomically (temporary file in the same folder, then rename); parent folders are made.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise DataError(f"cannot write image {path}: unknown extension {ext!r} (use {', '.join(IMAGE_EXTENSIONS)})")
    if bit_depth not in (8, 16):
        raise DataError(f"cannot write image {path}: bit_depth must be 8 or 16, not {bit_depth!r}")
    if bit_depth == 16 and ext not in _SIXTEEN_BIT_EXTS:
        raise DataError(f"cannot write image {path}: {ext} cannot hold 16-bit images (use .png or .tif)")
    if alpha is not None and ext in _NO_ALPHA_EXTS:
        raise DataError(f"cannot write image {path}: {ext} cannot hold an alpha channel (use .png, .webp or .tif)")

    rgb = np.asarray(rgb)
    if rgb.ndim == 3 and rgb.shape[2] == 1:
        rgb = rgb[:, :, 0]
    if rgb.ndim == 2:
        out = quantize(rgb, bit_depth)[:, :, None]
    elif rgb.ndim == 3 and rgb.shape[2] == 3:
        out = quantize(rgb[:, :, ::-1], bit_depth)  # RGB -> BGR for OpenCV
    else:
        raise DataError(f"cannot write image {path}: expected HxWx3 or HxW pixels, got shape {rgb.shape}")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != out.shape[:2]:
            raise DataError(f"cannot write image {path}: alpha shape {alpha.shape} != image shape {out.shape[:2]}")
        if out.shape[2] == 1:
            out = np.repeat(out, 3, axis=2)
        out = np.concatenate([out, quantize(alpha, bit_depth)[:, :, None]], axis=2)
    if out.shape[2] == 1:
        out = out[:, :, 0]

    ok, buf = cv2.imencode(ext, np.ascontiguousarray(out))
    if not ok:
        raise DataError(f"cannot write image {path}: OpenCV could not encode it as {ext}")
    with atomic_open(path) as handle:
        handle.write(buf.tobytes())
    return path

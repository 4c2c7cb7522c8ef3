"""Image files: formats, bit depths, channel order, alpha, rounding, atomic writes and errors naming the file."""
import cv2
import numpy as np
import pytest

from srgan_kit.data.imageio import (IMAGE_EXTENSIONS, image_size, list_images, load_image, save_image,
                                    stored_bit_depth)
from srgan_kit.errors import DataError


@pytest.fixture
def rgb8():
    return np.random.default_rng(0).integers(0, 256, (12, 17, 3), dtype=np.uint8)


def _write(path, bgr, params=()):
    ok, buf = cv2.imencode(path.suffix, bgr, list(params))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def test_png_8bit_round_trip_is_exact(tmp_path, rgb8):
    path = save_image(tmp_path / "a.png", rgb8 / 255.0)
    img = load_image(path)
    assert img.bit_depth == 8 and img.alpha is None
    assert img.rgb.dtype == np.float32 and img.rgb.shape == (12, 17, 3)
    np.testing.assert_array_equal(np.round(img.rgb * 255), rgb8)
    # the file holds BGR as OpenCV expects: our RGB order survives a read by OpenCV itself
    np.testing.assert_array_equal(cv2.imread(str(path))[:, :, ::-1], rgb8)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_round_trip_is_exact(tmp_path, ext):
    rgb16 = np.random.default_rng(1).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    path = save_image(tmp_path / f"a{ext}", rgb16 / 65535.0, bit_depth=16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    img = load_image(path)
    assert img.bit_depth == 16
    np.testing.assert_array_equal(np.round(img.rgb.astype(np.float64) * 65535), rgb16)


@pytest.mark.parametrize("ext, bits", [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".jpg", 8),
                                       (".webp", 8)])
def test_the_stored_bit_depth_from_the_header_is_what_loading_reports(tmp_path, ext, bits):
    path = save_image(tmp_path / f"a{ext}", np.full((6, 5, 3), 0.25), bit_depth=bits)
    assert stored_bit_depth(path) == load_image(path).bit_depth == bits


def test_save_rounds_instead_of_truncating(tmp_path):
    rgb = np.full((2, 2, 3), 10.6 / 255.0)  # truncation would give 10
    rgb[0, 0] = 10.4 / 255.0
    rgb[1, 1] = 1.7  # out of range: clipped
    img = load_image(save_image(tmp_path / "r.png", rgb))
    got = np.round(img.rgb * 255)
    assert got[0, 1, 0] == 11 and got[0, 0, 0] == 10 and got[1, 1, 0] == 255


def test_channel_order_is_rgb(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in OpenCV's BGR
    img = load_image(_write(tmp_path / "red.png", bgr))
    np.testing.assert_array_equal(img.rgb[0, 0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype,peak,bits", [(np.uint8, 255, 8), (np.uint16, 65535, 16)])
def test_grayscale_becomes_three_channels(tmp_path, dtype, peak, bits):
    gray = np.random.default_rng(2).integers(0, peak + 1, (7, 5)).astype(dtype)
    img = load_image(_write(tmp_path / "g.png", gray))
    assert img.rgb.shape == (7, 5, 3) and img.bit_depth == bits and img.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(np.round(img.rgb[..., c].astype(np.float64) * peak), gray)


def test_rgba_alpha_is_returned_apart(tmp_path, rgb8):
    alpha = np.random.default_rng(3).integers(0, 256, rgb8.shape[:2], dtype=np.uint8)
    bgra = np.concatenate([rgb8[:, :, ::-1], alpha[:, :, None]], axis=2)
    img = load_image(_write(tmp_path / "rgba.png", bgra))
    assert img.rgb.shape == (12, 17, 3)
    np.testing.assert_array_equal(np.round(img.rgb * 255), rgb8)
    np.testing.assert_array_equal(np.round(img.alpha * 255), alpha)
    # and back: save_image writes alpha as the 4th channel
    again = load_image(save_image(tmp_path / "out.png", img.rgb, alpha=img.alpha))
    np.testing.assert_array_equal(np.round(again.alpha * 255), alpha)
    np.testing.assert_array_equal(np.round(again.rgb * 255), rgb8)


@pytest.mark.parametrize("ext", [".bmp", ".tif", ".tiff", ".webp", ".PNG"])
def test_lossless_formats_read_exactly(tmp_path, rgb8, ext):
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []  # > 100: lossless WebP
    img = load_image(_write(tmp_path / f"a{ext}", rgb8[:, :, ::-1], params))
    np.testing.assert_array_equal(np.round(img.rgb * 255), rgb8)
    assert image_size(tmp_path / f"a{ext}") == (12, 17)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg"])
def test_jpeg_reads_close_to_the_source(tmp_path, ext):
    smooth = np.zeros((32, 32, 3), np.float64)
    smooth[..., 0] = np.linspace(0.2, 0.9, 32)[None, :]  # red ramp, green/blue flat
    smooth[..., 1] = 0.3
    smooth[..., 2] = 0.6
    img = load_image(save_image(tmp_path / f"a{ext}", smooth))
    assert np.abs(img.rgb - smooth).mean() < 0.01


def test_non_ascii_path(tmp_path, rgb8):
    path = tmp_path / "bilder ñandú" / "图像.png"
    save_image(path, rgb8 / 255.0)  # parent folder is made
    np.testing.assert_array_equal(np.round(load_image(path).rgb * 255), rgb8)
    assert list_images(path.parent) == [path]


def test_corrupt_file_is_a_data_error_naming_it(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"this is not a png" * 20)
    with pytest.raises(DataError, match="x.png"):
        load_image(bad)
    with pytest.raises(DataError, match="x.png"):
        image_size(bad)


def test_truncated_and_empty_and_missing_files(tmp_path, rgb8):
    data = cv2.imencode(".png", rgb8)[1].tobytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("trunc.png", "empty.png", "missing.png"):
        with pytest.raises(DataError, match=name):
            load_image(tmp_path / name)


def test_list_images_sorted_filtered_and_errors(tmp_path, rgb8):
    for name in ("b.png", "a.JPG", "c.webp", "notes.txt", "._a.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()  # folders are not images
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "c.webp"]
    assert ".png" in IMAGE_EXTENSIONS
    with pytest.raises(DataError, match="nowhere"):
        list_images(tmp_path / "nowhere", what="GT")
    with pytest.raises(DataError, match="notes.txt"):
        list_images(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no image"):
        list_images(tmp_path / "empty")


def test_save_refuses_what_the_format_cannot_hold(tmp_path, rgb8):
    rgb, alpha = rgb8 / 255.0, np.ones(rgb8.shape[:2])
    with pytest.raises(DataError, match="a.jpg.*alpha"):
        save_image(tmp_path / "a.jpg", rgb, alpha=alpha)
    with pytest.raises(DataError, match="b.jpg.*16-bit"):
        save_image(tmp_path / "b.jpg", rgb, bit_depth=16)
    with pytest.raises(DataError, match="c.gif"):
        save_image(tmp_path / "c.gif", rgb)
    assert not list(tmp_path.iterdir())


def test_save_is_atomic_and_overwrites(tmp_path, rgb8):
    path = tmp_path / "a.png"
    save_image(path, np.zeros((3, 3, 3)))
    save_image(path, rgb8 / 255.0)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary files left behind
    np.testing.assert_array_equal(np.round(load_image(path).rgb * 255), rgb8)


def test_writing_a_large_image_makes_no_full_size_float64_copy(tmp_path):
    """Quantising to 8 bits runs in chunks: the peak of Python-side allocations stays far below one float64
    copy of the image (a 12000x12000 output would otherwise need gigabytes more)."""
    import tracemalloc

    from srgan_kit.data.imageio import quantize

    img = np.random.default_rng(0).random((4000, 1000, 3), dtype=np.float32)  # 12M values: 96 MB as float64
    tracemalloc.start()
    try:
        out = quantize(img)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.6 * img.size * 8
    np.testing.assert_array_equal(out, np.round(np.clip(img.astype(np.float64), 0, 1) * 255).astype(np.uint8))


@pytest.mark.parametrize("ext", [".tif", ".jpg"])  # OpenCV turns TIFFs itself, JPEGs not
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_on_reading_as_viewers_do(tmp_path, orientation, ext):
    from PIL import Image, ImageOps

    from srgan_kit.data.imageio import image_size

    yy, xx = np.mgrid[0:40, 0:60]
    stored = np.stack([xx * 4, yy * 6, (xx + yy) * 2], -1).astype(np.uint8)  # smooth: JPEG keeps it
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo{ext}"
    im.save(path, exif=exif, **({"quality": 98} if ext == ".jpg" else {}))
    with Image.open(path) as opened:
        shown = np.asarray(ImageOps.exif_transpose(opened)).astype(np.float64)
    img = np.round(load_image(path).rgb * 255)
    assert img.shape == shown.shape and np.abs(img - shown).mean() < 2
    assert image_size(path) == shown.shape[:2]

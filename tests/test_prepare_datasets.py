"""prepare_datasets: the X<s>/{HR,LR} layout (mod-crop, MATLAB-exact LR, names), count/size checks, sub-image
crops (BasicSR's window positions, names, coverage, HR/LR alignment) and never overwriting a user's file."""
import numpy as np
import pytest

from srgan_kit.data import catalogue as bm
from srgan_kit.cli.prepare_datasets import main
from srgan_kit.data.degradation import imresize_int, mod_crop
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.eval.sets import resolve_datasets  # evaluate reads the layout prepare_datasets writes

SIZES = {"odd": (37, 50), "tall": (61, 45), "small": (29, 31)}  # none a multiple of 2, 3 or 4 on both sides


def _img(h, w, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(path, u8):
    save_image(path, u8.astype(np.float64) / 255.0)


def _read(path):
    return np.round(load_image(path).rgb.astype(np.float64) * 255).astype(np.uint8)


@pytest.fixture()
def hr_folder(tmp_path):
    src = tmp_path / "src"
    images = {}
    for i, (stem, (h, w)) in enumerate(SIZES.items()):
        images[stem] = _img(h, w, i)
        _save(src / f"{stem}{'.bmp' if stem == 'tall' else '.png'}", images[stem])  # any format in
    return src, images


def test_layout_names_mod_crop_and_matlab_exact_lr(hr_folder, tmp_path, capsys):
    src, images = hr_folder
    out = tmp_path / "datasets"
    assert main(["--hr", str(src), "--name", "Mini", "--scales", "2,3,4", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "not a known set" in captured.err and "21 file(s) written" in captured.out  # 3 x (1 + 3 x 2)
    root = out / "Mini"
    for stem, img in images.items():
        np.testing.assert_array_equal(_read(root / "HR" / f"{stem}.png"), img)
        for s in (2, 3, 4):
            hr = _read(root / f"X{s}" / "HR" / f"{stem}.png")
            lr = _read(root / f"X{s}" / "LR" / f"{stem}x{s}.png")
            h, w = img.shape[:2]
            assert hr.shape[:2] == (h - h % s, w - w % s)
            assert lr.shape[:2] == (h // s, w // s)
            np.testing.assert_array_equal(hr, mod_crop(img, s))
            np.testing.assert_array_equal(lr, imresize_int(np.ascontiguousarray(mod_crop(img, s)), 1 / s))
    assert sorted(p.name for p in (root / "X3" / "LR").iterdir()) == ["oddx3.png", "smallx3.png", "tallx3.png"]
    assert bm.verify_layout("Mini", out) == ([], [])
    (spec,) = resolve_datasets(["mini"], 3, root=out)
    assert (spec.name, spec.lr_dir, spec.gt_dir) == ("Mini", root / "X3" / "LR", root / "X3" / "HR")


def test_rerun_keeps_identical_files_and_never_overwrites(hr_folder, tmp_path, capsys):
    src, _ = hr_folder
    out = tmp_path / "datasets"
    args = ["--hr", str(src), "--name", "Mini", "--scales", "2", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0  # idempotent
    assert "0 file(s) written, 9 identical file(s) kept" in capsys.readouterr().out
    user_file = out / "Mini" / "X2" / "LR" / "tallx2.png"
    mine = _img(30, 22, 99)
    _save(user_file, mine)
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(user_file) in errors[0] and "refusing to overwrite" in errors[0]
    np.testing.assert_array_equal(_read(user_file), mine)


def test_hr_folder_in_place_is_not_copied_into(hr_folder, tmp_path):
    src, images = hr_folder
    inplace = tmp_path / "datasets" / "Mini" / "HR"
    inplace.parent.mkdir(parents=True)
    src.rename(inplace)
    assert main(["--hr", str(inplace), "--name", "Mini", "--scales", "4", "--out", str(tmp_path / "datasets")]) == 0
    assert sorted(p.name for p in inplace.iterdir()) == ["odd.png", "small.png", "tall.bmp"]  # nothing added
    assert (tmp_path / "datasets" / "Mini" / "X4" / "LR" / "tallx4.png").is_file()


def test_known_set_count_is_checked_with_a_warning(hr_folder, tmp_path, capsys):
    src, _ = hr_folder
    out = tmp_path / "datasets"
    assert main(["--hr", str(src), "--name", "bsd100", "--scales", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "B100 has 100 HR images" in err and str(src) in err and "holds 3" in err
    assert (out / "B100" / "X2" / "LR").is_dir()  # alias -> canonical folder name
    # the same check on a prepared layout
    problems, warnings = bm.verify_layout("B100", out)
    assert problems == [] and "holds 3" in warnings[0]


def test_too_small_images_and_bad_scales_are_errors(tmp_path, capsys):
    src = tmp_path / "src"
    _save(src / "tiny.png", _img(6, 20, 0))
    assert main(["--hr", str(src), "--name", "X", "--scales", "2,4", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "tiny.png (6x20)" in err and "8x8" in err
    assert main(["--hr", str(src), "--name", "X", "--scales", "2,a"]) == 2
    assert "--scales" in capsys.readouterr().err


def _basicsr_starts(length, crop, step, thresh):
    """BasicSR's extract_subimages window starts, written out independently."""
    space = np.arange(0, length - crop + 1, step)
    if length - (space[-1] + crop) > thresh:
        space = np.append(space, length - crop)
    return [int(v) for v in space]


def test_subimages_in_layout_names_count_coverage_and_alignment(tmp_path):
    src, out = tmp_path / "src", tmp_path / "datasets"
    img = _img(100, 131, 3)
    _save(src / "0001.png", img)
    assert main(["--hr", str(src), "--name", "Big", "--scales", "2,4", "--out", str(out), "--subimages",
                 "--crop-size", "48", "--step", "24"]) == 0
    for s in (2, 4):
        hr = mod_crop(img, s)
        lr = _read(out / "Big" / f"X{s}" / "LR" / f"0001x{s}.png")
        tops = _basicsr_starts(hr.shape[0], 48, 24, 0)
        lefts = _basicsr_starts(hr.shape[1], 48, 24, 0)
        windows = [(t, l) for t in tops for l in lefts]
        hr_sub = sorted((out / "Big" / f"X{s}" / "HR_sub").iterdir())
        lr_sub = sorted((out / "Big" / f"X{s}" / "LR_sub").iterdir())
        assert [p.name for p in hr_sub] == [f"0001_s{i:03d}.png" for i in range(1, len(windows) + 1)]
        assert [p.name for p in lr_sub] == [f"0001_s{i:03d}x{s}.png" for i in range(1, len(windows) + 1)]
        covered = np.zeros(hr.shape[:2], bool)
        for (t, l), hp, lp in zip(windows, hr_sub, lr_sub):
            np.testing.assert_array_equal(_read(hp), hr[t:t + 48, l:l + 48])
            c = 48 // s  # the LR crop shows the same region
            np.testing.assert_array_equal(_read(lp), lr[t // s:t // s + c, l // s:l // s + c])
            covered[t:t + 48, l:l + 48] = True
        assert covered.all()
    assert len(windows) == 4 * 5  # x4: 100 rows -> 0, 24, 48, 52; 128 cols -> 0, 24, 48, 72, 80


def test_subimages_of_a_folder_threshold_and_lr_names(tmp_path, capsys):
    lr_dir, out = tmp_path / "LR", tmp_path / "LR_sub"
    lr = _img(50, 70, 4)
    _save(lr_dir / "0001x2.png", lr)
    _save(lr_dir / "0002x2.png", _img(20, 70, 5))  # smaller than the 24x24 LR crop: skipped, with a warning
    # HR crop 48 / step 24 / thresh 4 -> LR 24 / 12 / 2: rows 0, 12, 24 (+26 since 50-48 = 2 is not > 2)
    assert main(["--subimages", "--input", str(lr_dir), "--output", str(out), "--scale", "2",
                 "--crop-size", "48", "--step", "24", "--thresh-size", "4", "--workers", "2"]) == 0
    assert "0002x2.png" in capsys.readouterr().err
    tops, lefts = _basicsr_starts(50, 24, 12, 2), _basicsr_starts(70, 24, 12, 2)
    assert tops == [0, 12, 24] and lefts == [0, 12, 24, 36, 46]
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"0001_s{i:03d}x2.png" for i in range(1, 16)]
    np.testing.assert_array_equal(_read(out / "0001_s007x2.png"), lr[12:36, 12:36])  # 2nd row, 2nd column
    # a crop size the scale does not divide
    assert main(["--subimages", "--input", str(lr_dir), "--output", str(tmp_path / "o"), "--scale", "3",
                 "--crop-size", "50"]) == 2
    assert "--crop-size 50 is not a multiple of scale 3" in capsys.readouterr().err


def test_catalogue_list_download_and_check(shared_dir, capsys):
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    for name, count in [("Set5", 5), ("Set14", 14), ("B100", 100), ("Urban100", 100), ("Manga109", 109),
                        ("DIV2K_train", 800), ("DIV2K_valid", 100)]:
        assert f"{name}: " in text and f"{count} HR images" in text
        assert bm.find_benchmark(name.lower()).count == count
    assert main(["--download", "div2k-valid"]) == 0
    assert "DIV2K_valid_HR.zip" in capsys.readouterr().out
    assert main(["--download", "Set6"]) == 2
    # the shared Set5 has this layout already
    assert main(["--check", "--name", "Set5", "--out", str(shared_dir / "data")]) == 0
    assert "Set5: ok" in capsys.readouterr().out


def test_prepared_set5_equals_the_published_matlab_files(shared_dir, tmp_path):
    """From Set5's HR images alone, the layout reproduces the MATLAB-made X2/X3/X4 HR and LR files bit for bit."""
    set5 = shared_dir / "data" / "Set5"
    assert main(["--hr", str(set5 / "HR"), "--name", "set5", "--out", str(tmp_path)]) == 0
    for s in (2, 3, 4):
        for ref in sorted((set5 / f"X{s}" / "LR").iterdir()):
            np.testing.assert_array_equal(_read(tmp_path / "Set5" / f"X{s}" / "LR" / ref.name), _read(ref))
        for ref in sorted((set5 / f"X{s}" / "HR").iterdir()):
            np.testing.assert_array_equal(_read(tmp_path / "Set5" / f"X{s}" / "HR" / ref.name), _read(ref))


# ---- big sets: LR crops, --min-gradient, meta_info, resuming a stopped run -----------------------------------

def _ramp_tile(h, w):
    """R rises 3 per column, G 5 per row: grey gx = 0.299 * 3 / 255, gy = 0.587 * 5 / 255 at every pixel."""
    tile = np.zeros((h, w, 3), np.uint8)
    tile[..., 0] = 3 * np.arange(w)[None, :]
    tile[..., 1] = 5 * np.arange(h)[:, None]
    return tile


def test_mean_gradient_is_the_mean_sobel_magnitude_of_the_luma():
    assert bm.mean_gradient(np.full((20, 30, 3), 128, np.uint8)) == 0.0
    expected = np.hypot(0.299 * 3, 0.587 * 5) / 255  # a ramp's Sobel / 8 is its slope
    assert bm.mean_gradient(_ramp_tile(32, 32)) == pytest.approx(expected, rel=1e-5)


def test_min_gradient_drops_flat_sub_images_with_their_lr(tmp_path, capsys):
    img = np.full((32, 64, 3), 128, np.uint8)  # window s001 flat, window s002 a ramp (measure ~0.012)
    img[:, 32:] = _ramp_tile(32, 32)
    _save(tmp_path / "hr" / "a.png", img)
    out, lr = tmp_path / "sub", tmp_path / "lr"
    assert main(["--subimages", "--input", str(tmp_path / "hr"), "--output", str(out), "--lr-output", str(lr),
                 "--scales", "2", "--crop-size", "32", "--step", "32", "--min-gradient", "0.005"]) == 0
    assert "(2 file(s) written, 1 sub-image(s) under --min-gradient 0.005 left out)" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == ["a_s002.png"]
    assert [p.name for p in lr.iterdir()] == ["a_s002x2.png"]


def test_lr_crops_are_windows_of_the_matlab_lr_and_meta_info_lists_the_hr_crops(tmp_path):
    from srgan_kit.data.datasets import _meta_info_paths  # what RealESRGANDataset reads

    img = _img(50, 75, 7)
    _save(tmp_path / "hr" / "b.png", img)
    out, lr, meta = tmp_path / "sub", tmp_path / "lr", tmp_path / "meta_info.txt"
    assert main(["--subimages", "--input", str(tmp_path / "hr"), "--output", str(out), "--lr-output", str(lr),
                 "--scales", "4", "--crop-size", "32", "--step", "16", "--meta-info", str(meta)]) == 0
    hr4 = mod_crop(img, 4)  # 48 x 72: rows 0, 16; columns 0, 16, 32, 40
    lr4 = imresize_int(np.ascontiguousarray(hr4), 1 / 4)
    windows = [(t, l) for t in (0, 16) for l in (0, 16, 32, 40)]
    for i, (t, l) in enumerate(windows, 1):
        np.testing.assert_array_equal(_read(out / f"b_s{i:03d}.png"), hr4[t:t + 32, l:l + 32])
        np.testing.assert_array_equal(_read(lr / f"b_s{i:03d}x4.png"), lr4[t // 4:t // 4 + 8, l // 4:l // 4 + 8])
    assert len(list(lr.iterdir())) == len(windows)
    assert meta.read_text().splitlines() == [f"b_s{i:03d}.png" for i in range(1, 9)]
    assert _meta_info_paths(meta, out, "t") == [out / f"b_s{i:03d}.png" for i in range(1, 9)]


def _tree(*folders):
    return {p.relative_to(f.parent).as_posix(): p.read_bytes() for f in folders for p in sorted(f.rglob("*"))}


def test_a_stopped_run_continues_without_repeating_work_and_ends_as_a_straight_run(tmp_path, monkeypatch, capsys):
    from srgan_kit.data import imageio

    for i in range(3):
        img = _img(40, 56, 10 + i)
        img[:, :24] = 90  # flat windows, left out by --min-gradient
        _save(tmp_path / "hr" / f"{i}.png", img)

    def run(root):
        return main(["--subimages", "--input", str(tmp_path / "hr"), "--output", str(root / "sub"),
                     "--lr-output", str(root / "lr"), "--scales", "4", "--crop-size", "16", "--step", "8",
                     "--min-gradient", "0.01", "--meta-info", str(root / "meta.txt")])

    assert run(tmp_path / "straight") == 0
    capsys.readouterr()
    real_open, opened = imageio.atomic_open, []

    def killed_at_40(path, *args, **kwargs):  # the 40th file (of image 1): SIGKILL leaves a temporary file
        opened.append(path)
        if len(opened) == 40:
            (path.parent / f".{path.name}.x1y2.tmp").write_bytes(b"\x89PNG half")
            raise KeyboardInterrupt
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(imageio, "atomic_open", killed_at_40)
    assert run(tmp_path / "resumed") == 130
    written_before = sorted((tmp_path / "resumed").rglob("*.png"))
    assert len(written_before) == 39 and not (tmp_path / "resumed" / "meta.txt").exists()
    for p in written_before:  # each file there is whole
        assert p.read_bytes() == (tmp_path / "straight" / p.relative_to(tmp_path / "resumed")).read_bytes()
    monkeypatch.setattr(imageio, "atomic_open", real_open)
    loaded, real_load = [], bm.load_image
    monkeypatch.setattr(bm, "load_image", lambda path: loaded.append(path.name) or real_load(path))
    capsys.readouterr()
    assert run(tmp_path / "resumed") == 0
    out = capsys.readouterr().out
    total = len(list((tmp_path / "straight").rglob("*.png")))
    assert f"({total - 39} file(s) written, 39 identical file(s) kept" in out
    assert "1 image(s) finished by an earlier run" in out and "0.png" not in loaded  # not decoded again
    assert _tree(*(tmp_path / "resumed" / n for n in ("sub", "lr", "meta.txt"))) == \
        _tree(*(tmp_path / "straight" / n for n in ("sub", "lr", "meta.txt")))


def test_check_pairs_sub_images(tmp_path, capsys):
    _save(tmp_path / "hr" / "c.png", _img(40, 40, 1))
    out = tmp_path / "datasets"
    assert main(["--hr", str(tmp_path / "hr"), "--name", "Mini", "--scales", "2", "--out", str(out), "--subimages",
                 "--crop-size", "16", "--step", "16"]) == 0
    (out / "Mini" / "X2" / "LR_sub" / "c_s003x2.png").unlink()
    capsys.readouterr()
    assert main(["--check", "--name", "Mini", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no LR sub-image for 1 HR sub-image(s): c_s003x2" in err


@pytest.mark.parametrize("extra, message", [
    (["--lr-output", "LR"], "--lr-output needs the LR crops' scale"),
    (["--scale", "2", "--min-gradient", "0.01"], "--min-gradient with --scale 2"),
    (["--scales", "4"], "--scales with --input is the scale of --lr-output"),
])
def test_conflicting_crop_options_are_one_error_before_any_file(tmp_path, capsys, extra, message):
    _save(tmp_path / "in" / "d.png", _img(40, 40, 2))
    extra = [str(tmp_path / a) if a == "LR" else a for a in extra]
    assert main(["--subimages", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *extra]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_meta_info_of_a_layout_lists_its_one_scale_of_hr_sub_images(tmp_path, capsys):
    _save(tmp_path / "hr" / "e.png", _img(32, 16, 3))
    out, meta = tmp_path / "datasets", tmp_path / "meta_info.txt"
    args = ["--hr", str(tmp_path / "hr"), "--name", "Mini", "--out", str(out), "--subimages", "--crop-size", "16",
            "--step", "16", "--meta-info", str(meta)]
    assert main(args + ["--scales", "2,4"]) == 2
    assert "--meta-info lists the sub-images of one scale" in capsys.readouterr().err and not out.exists()
    assert main(args + ["--scales", "2"]) == 0
    assert meta.read_text().splitlines() == ["e_s001.png", "e_s002.png"]  # 32x16: windows at rows 0 and 16
    assert sorted(p.name for p in (out / "Mini" / "X2" / "HR_sub").iterdir()) == ["e_s001.png", "e_s002.png"]


def _save16(path, u16):
    save_image(path, u16.astype(np.float64) / 65535.0, bit_depth=16)


def test_16_bit_images_crop_to_16_bit_hr_and_lr_with_every_level(tmp_path):
    img = np.random.default_rng(3).integers(0, 65536, (40, 56, 3), dtype=np.uint16)  # low bytes matter
    _save16(tmp_path / "hr" / "d.png", img)
    out, lr = tmp_path / "sub", tmp_path / "lr"
    assert main(["--subimages", "--input", str(tmp_path / "hr"), "--output", str(out), "--lr-output", str(lr),
                 "--scales", "4", "--crop-size", "32", "--step", "24"]) == 0
    lr4 = imresize_int(np.ascontiguousarray(mod_crop(img, 4)), 1 / 4)
    for i, left in enumerate((0, 24), 1):
        crop, small = load_image(out / f"d_s{i:03d}.png"), load_image(lr / f"d_s{i:03d}x4.png")
        assert crop.bit_depth == small.bit_depth == 16
        np.testing.assert_array_equal(np.round(crop.rgb.astype(np.float64) * 65535), img[:32, left:left + 32])
        np.testing.assert_array_equal(np.round(small.rgb.astype(np.float64) * 65535), lr4[:8, left // 4:left // 4 + 8])


def test_a_16_bit_image_in_the_8_bit_benchmark_layout_is_one_error_before_any_file(tmp_path, capsys):
    _save(tmp_path / "hr" / "a.png", _img(32, 32, 1))
    _save16(tmp_path / "hr" / "b.png", np.full((32, 32, 3), 1000, np.uint16))
    out = tmp_path / "datasets"
    assert main(["--hr", str(tmp_path / "hr"), "--name", "Mine", "--scales", "2", "--out", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "b.png" in errors[0] and "16-bit" in errors[0] and "a.png" not in errors[0]
    assert not any(p.is_file() for p in out.rglob("*"))


def test_images_sharing_a_name_stem_are_one_error_naming_both(tmp_path, capsys):
    _save(tmp_path / "hr" / "a.png", _img(32, 32, 1))
    _save(tmp_path / "hr" / "a.bmp", _img(32, 32, 2))
    assert main(["--hr", str(tmp_path / "hr"), "--name", "Mine", "--scales", "2", "--out", str(tmp_path / "o")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a.bmp, a.png" in errors[0] and not (tmp_path / "o").exists()

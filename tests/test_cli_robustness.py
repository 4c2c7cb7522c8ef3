"""Command lines given out-of-range numbers, taken or unwritable outputs and folders with stray files: one line
naming the option or file, exit 2 (user error) or 74 (file system), nothing of the user's written over, and the
check made before the work."""
import json

import numpy as np
import pytest
import torch
import yaml
from conftest import write_photos

from srgan_kit.archs.generators import MSRResNet
from srgan_kit.archs.weights import load_state_dict_file
from srgan_kit.cli import EX_IOERR, CannotWrite, writable_folder
from srgan_kit.cli import evaluate, export, interpolate, preview_degradations
from srgan_kit.cli.infer import main as infer_main
from srgan_kit.data.imageio import list_images, load_image, non_image_files

UNWRITABLE = "/proc/srgan_kit_output"  # a folder nobody can create, root included


@pytest.fixture()
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "g.pth"
    torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()}, path)
    return path


def _a_file(tmp_path):
    """A file where a folder is expected; the tests check it is left as it was."""
    (tmp_path / "notes").write_text("mine")
    return tmp_path / "notes"


def _parse_error(main, argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code, capsys.readouterr().err.strip().splitlines()[-1]


# ---------------------------------------------------------------- numbers checked with their limit ---------------
def test_export_size_has_a_limit(tmp_path, capsys):
    code, err = _parse_error(export.main, ["--model", "g.pth", "-o", str(tmp_path / "m.onnx"), "--size", "100000"],
                             capsys)
    assert code == 2 and err.endswith("argument --size: '100000': expected a number >= 1 and <= 4096 "
                                      "(the traced example input)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("opset", ["99", "10"])
def test_export_opset_is_one_torch_onnx_exports(tmp_path, capsys, opset):
    from torch.onnx import _constants

    code, err = _parse_error(export.main, ["--model", "g.pth", "-o", str(tmp_path / "m.onnx"), "--opset", opset],
                             capsys)
    top = _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    assert code == 2 and err.endswith(f"argument --opset: '{opset}': expected a number >= 11 and <= {top} "
                                      "(the opsets torch.onnx exports)")


def test_infer_outscale_has_a_limit(tmp_path, capsys):
    code, err = _parse_error(infer_main, ["-i", str(tmp_path), "-o", str(tmp_path / "o"), "--model", "g.pth",
                                          "-s", "1000"], capsys)
    assert code == 2 and "argument -s/--outscale: '1000': expected a number > 0 and <= 16" in err
    assert list(tmp_path.iterdir()) == []


def test_preview_sample_count_has_a_limit(tmp_path, capsys):
    code, err = _parse_error(preview_degradations.main, ["-opt", "x.yml", "-o", str(tmp_path / "p"),
                                                          "-n", "100000"], capsys)
    assert code == 2 and "argument -n: '100000': expected a number >= 1 and <= 1000" in err


def _preview_options(tmp_path):
    write_photos(tmp_path / "gt", 3, 56, 56)
    opt = {"name": "preview", "model_type": "RealESRNetModel", "scale": 2, "num_gpu": 0, "gt_size": 32,
           "queue_size": 4,
           "datasets": {"train": {"name": "tiles", "type": "RealESRGANDataset", "dataroot_gt": str(tmp_path / "gt"),
                                  "crop_pad_size": 48, "gt_size": 32, "batch_size_per_gpu": 2}},
           "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
           "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 1,
                     "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0}}}
    (tmp_path / "opt.yml").write_text(yaml.safe_dump(opt))
    return tmp_path / "opt.yml"


def test_an_interrupted_preview_keeps_the_batches_it_wrote(tmp_path, monkeypatch, capsys):
    from srgan_kit.models import realesrnet

    made = realesrnet.build_pairs

    def interrupted_on_the_second_batch(*args, **kwargs):
        pairs, calls = made(*args, **kwargs), []

        def degrade(batch, seed):
            calls.append(seed)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return pairs(batch, seed)

        return degrade

    monkeypatch.setattr(preview_degradations, "BATCH", 2)
    monkeypatch.setattr(realesrnet, "build_pairs", interrupted_on_the_second_batch)
    out = tmp_path / "preview"
    assert preview_degradations.main(["-opt", str(_preview_options(tmp_path)), "-n", "3", "-o", str(out)]) == 130
    assert sorted(p.name for p in out.iterdir()) == ["gt_000.png", "gt_001.png", "lq_000.png", "lq_001.png"]
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert last == f"interrupted: the samples written so far are kept in {out} (no contact sheet)"


def test_the_contact_sheet_made_batch_by_batch_shows_every_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(preview_degradations, "BATCH", 2)
    out = tmp_path / "preview"
    assert preview_degradations.main(["-opt", str(_preview_options(tmp_path)), "-n", "3", "-o", str(out)]) == 0
    sheet = load_image(out / "contact_sheet.png").rgb
    lq = load_image(out / "lq_002.png").rgb
    assert sheet.shape == (3 * 32, 2 * 32, 3)
    assert np.array_equal(sheet[64:, :32], load_image(out / "gt_002.png").rgb)  # sample 2 from the second batch
    assert np.array_equal(sheet[64:, 32:], np.kron(lq, np.ones((2, 2, 1), np.float32)))  # its LR, nearest x2


# ---------------------------------------------------------------- interpolation file names ---------------------
def test_file_names_keep_two_decimals_and_add_what_tells_alphas_apart():
    assert interpolate.file_names([0.2, 0.25, 1.0]) == {0.2: "interp_0.20.pth", 0.25: "interp_0.25.pth",
                                                        1.0: "interp_1.00.pth"}
    assert interpolate.file_names([0.333, 0.334, 0.5]) == {0.333: "interp_0.333.pth", 0.334: "interp_0.334.pth",
                                                           0.5: "interp_0.500.pth"}


def _two_generators(tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        torch.save({"params": MSRResNet(num_feat=8, num_block=1, upscale=2).state_dict()}, tmp_path / f"{name}.pth")
    return ["--a", str(tmp_path / "a.pth"), "--b", str(tmp_path / "b.pth")]


def test_alphas_that_share_two_decimals_give_one_file_each(tmp_path):
    argv = _two_generators(tmp_path)
    assert interpolate.main([*argv, "--alpha", "0.333,0.334", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["interp_0.333.pth", "interp_0.334.pth"]
    a, b = load_state_dict_file(tmp_path / "a.pth"), load_state_dict_file(tmp_path / "b.pth")
    got = load_state_dict_file(tmp_path / "out" / "interp_0.334.pth")
    for k in a:
        torch.testing.assert_close(got[k], 0.666 * a[k] + 0.334 * b[k])


def test_a_taken_long_name_stops_interpolation_before_any_file(tmp_path, capsys):
    argv = _two_generators(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "interp_0.334.pth").write_text("mine")
    assert interpolate.main([*argv, "--alpha", "0.333,0.334", "-o", str(tmp_path / "out")]) == 2
    assert "interp_0.334.pth exist(s) (nothing is overwritten)" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["interp_0.334.pth"]
    assert (tmp_path / "out" / "interp_0.334.pth").read_text() == "mine"


@pytest.mark.parametrize("alphas, words", [("0.5,0.50", "0.5 and 0.50 are the same alpha"),
                                           ("0,0.3,0", "0 is given twice")])
def test_duplicate_alphas_are_refused_in_one_line(tmp_path, capsys, alphas, words):
    code, err = _parse_error(interpolate.main, ["--a", "a.pth", "--b", "b.pth", "--alpha", alphas,
                                                "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and err.endswith(f"argument --alpha: {alphas!r}: {words}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- evaluate's results files ---------------------
@pytest.fixture()
def scored(tmp_path):
    """A GT folder and an SR folder of the same images (PSNR inf), scored at x2."""
    write_photos(tmp_path / "gt", 2, 8, 8)
    write_photos(tmp_path / "sr", 2, 8, 8)
    return ["--sr", str(tmp_path / "sr"), "--gt", str(tmp_path / "gt"), "--name", "mini", "--scale", "2",
            "--metrics", "psnr"]


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_evaluate_refuses_an_existing_results_file_before_scoring(tmp_path, scored, capsys, option):
    (tmp_path / "r").write_text("mine")
    assert evaluate.main([*scored, option, str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"error: {option} {tmp_path / 'r'}: exists (nothing is overwritten; --overwrite replaces it)"
    assert out == "" and (tmp_path / "r").read_text() == "mine"  # no table: nothing was scored


def test_evaluate_overwrite_replaces_the_results_file(tmp_path, scored, capsys):
    (tmp_path / "r.json").write_text("mine")
    assert evaluate.main([*scored, "--json", str(tmp_path / "r.json"), "--overwrite"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["datasets"]["mini"]["mean"]["psnr"] == "inf"
    assert "--overwrite" in evaluate.build_parser().format_help()


# ---------------------------------------------------------------- outputs the file system refuses --------------
def test_export_under_a_file_stops_before_the_conversion(tmp_path, weights, monkeypatch, capsys):
    monkeypatch.setattr(export, "export", lambda *a, **k: pytest.fail("converted before checking the output"))
    target = _a_file(tmp_path) / "m.onnx"
    assert export.main(["--model", str(weights), "-o", str(target)]) == EX_IOERR
    assert capsys.readouterr().err.strip() == (f"error: -o {target}: folder {target.parent}: exists and is not a "
                                               "folder")
    assert (tmp_path / "notes").read_text() == "mine"


def test_export_under_proc_stops_before_the_conversion(weights, monkeypatch, capsys):
    monkeypatch.setattr(export, "export", lambda *a, **k: pytest.fail("converted before checking the output"))
    assert export.main(["--model", str(weights), "-o", f"{UNWRITABLE}/m.onnx"]) == EX_IOERR
    assert capsys.readouterr().err.strip() == (f"error: -o {UNWRITABLE}/m.onnx: folder {UNWRITABLE} cannot be "
                                               "written (No such file or directory)")


def test_infer_output_below_a_file(tmp_path, weights, capsys):
    write_photos(tmp_path / "lr", 1, 6, 6)
    out = _a_file(tmp_path) / "up"
    assert infer_main(["-i", str(tmp_path / "lr"), "-o", str(out), "--model", str(weights)]) == EX_IOERR
    assert capsys.readouterr().err.strip() == f"error: output folder {out} cannot be written (Not a directory)"
    assert (tmp_path / "notes").read_text() == "mine"


def test_interpolate_into_a_file(tmp_path, capsys):
    argv = _two_generators(tmp_path)
    assert interpolate.main([*argv, "--alpha", "0.5", "-o", str(_a_file(tmp_path))]) == EX_IOERR
    assert capsys.readouterr().err.strip() == f"error: -o {tmp_path / 'notes'}: exists and is not a folder"
    assert (tmp_path / "notes").read_text() == "mine"


def test_evaluate_results_under_a_file_stop_before_scoring(tmp_path, scored, capsys):
    target = _a_file(tmp_path) / "r.csv"
    assert evaluate.main([*scored, "--csv", str(target)]) == EX_IOERR
    out, err = capsys.readouterr()
    assert err.strip() == f"error: --csv {target}: folder {target.parent}: exists and is not a folder" and out == ""


def test_preview_under_proc(tmp_path, capsys):
    code = preview_degradations.main(["-opt", str(_preview_options(tmp_path)), "-o", UNWRITABLE])
    assert code == EX_IOERR
    assert capsys.readouterr().err.strip() == f"error: -o {UNWRITABLE} cannot be written (No such file or directory)"


def test_writable_folder_makes_the_folder_and_leaves_it_empty(tmp_path):
    assert writable_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the proof file is gone
    with pytest.raises(CannotWrite) as info:
        writable_folder(UNWRITABLE, "--save-sr")
    assert info.value.exit_code == EX_IOERR and str(info.value).startswith(f"--save-sr {UNWRITABLE} cannot")


# ---------------------------------------------------------------- files that are not images --------------------
def _mixed_folder(folder):
    write_photos(folder, 1, 6, 6)  # 0.png
    (folder / "a.gif").write_bytes(b"GIF89a")
    (folder / "b.txt").write_text("notes")
    (folder / ".hidden").write_text("")  # hidden files are passed over without a word, as list_images does
    (folder / "sub").mkdir()
    return folder


def test_non_image_files_are_what_list_images_passes_over(tmp_path):
    folder = _mixed_folder(tmp_path / "in")
    assert non_image_files(folder) == [folder / "a.gif", folder / "b.txt"]
    assert list_images(folder) == [folder / "0.png"]  # unchanged for datasets


def test_infer_names_the_files_it_skips_in_one_line(tmp_path, weights, capsys):
    folder = _mixed_folder(tmp_path / "in")
    assert infer_main(["-i", str(folder), "-o", str(tmp_path / "out"), "--model", str(weights)]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: -i {folder}: skipped 2 file(s) that are not images (.gif, .txt): a.gif, b.txt"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["0_out.png"]


def test_evaluate_names_the_files_it_skips_in_the_gt_folder(tmp_path, scored, capsys):
    (tmp_path / "gt" / "2.gif").write_bytes(b"GIF89a")
    assert evaluate.main(scored) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: --gt {tmp_path / 'gt'}: skipped 1 file(s) that are not images (.gif): 2.gif"]


def test_a_folder_of_images_only_gets_no_note(tmp_path, weights, capsys):
    write_photos(tmp_path / "in", 1, 6, 6)
    assert infer_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(weights)]) == 0
    assert "note:" not in capsys.readouterr().err

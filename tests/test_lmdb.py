"""LMDB datasets in BasicSR's layout: made by tools/create_lmdb.py or by basicsr, read here and by basicsr."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import write_photos
from srgan_kit.cli.create_lmdb import main as create_main
from srgan_kit.cli.train import main as train_main
from srgan_kit.compat import import_basicsr
from srgan_kit.data.datasets import GTOnlyDataset, PairedImageDataset, SampleKey
from srgan_kit.data.degradation import imresize
from srgan_kit.data.imageio import load_image, save_image
from srgan_kit.data.lmdb_backend import LmdbStore
from srgan_kit.data.lmdb_writer import create_lmdb
from srgan_kit.errors import DataError

@pytest.fixture
def pairs(tmp_path):
    """GT 48x48 / LR 12x12 folders paired by name, and their LMDBs made by create_lmdb."""
    write_photos(tmp_path / "gt", 4, 48, 48, block=4)
    for image in sorted((tmp_path / "gt").iterdir()):
        save_image(tmp_path / "lq" / image.name, imresize(load_image(image).rgb, 1 / 4))
    for role in ("gt", "lq"):
        create_lmdb(tmp_path / role, tmp_path / f"{role}.lmdb", progress=False)
    return tmp_path


def test_each_image_is_stored_losslessly_under_its_name_without_extension(tmp_path):
    deep = np.arange(24 * 20, dtype=np.float32).reshape(24, 20) * 37 % 65536 / 65535  # low bytes matter
    save_image(tmp_path / "in" / "deep.png", deep, bit_depth=16)
    save_image(tmp_path / "in" / "photo.jpg", np.random.default_rng(0).uniform(size=(16, 16, 3)))
    create_lmdb(tmp_path / "in", tmp_path / "x.lmdb", progress=False)
    store = LmdbStore(tmp_path / "x.lmdb", "test")
    assert store.paths() == [str(tmp_path / "x.lmdb" / "deep.png"), str(tmp_path / "x.lmdb" / "photo.png")]
    for stored, source in zip(store.paths(), ["deep.png", "photo.jpg"]):
        ours, theirs = store.load(stored), load_image(tmp_path / "in" / source)
        assert ours.bit_depth == theirs.bit_depth and np.array_equal(ours.rgb, theirs.rgb)
    assert (tmp_path / "x.lmdb" / "meta_info.txt").read_text() == "deep.png (24,20,1) 1\nphoto.png (16,16,3) 1\n"


def test_basicsrs_lmdb_backend_reads_ours(pairs):
    backend = import_basicsr("basicsr.utils.file_client").LmdbBackend([str(pairs / "gt.lmdb")], ["gt"])
    paths = import_basicsr("basicsr.data.data_util").paired_paths_from_lmdb(
        [str(pairs / "lq.lmdb"), str(pairs / "gt.lmdb")], ["lq", "gt"])
    assert [p["gt_path"] for p in paths] == ["0", "1", "2", "3"]
    img = cv2.imdecode(np.frombuffer(backend.get("2", "gt"), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(img[..., ::-1] / np.float32(255), load_image(pairs / "gt" / "2.png").rgb)


def test_an_lmdb_made_by_basicsr_gives_the_samples_of_its_folder(pairs):
    make = import_basicsr("basicsr.utils.lmdb_util").make_lmdb_from_imgs
    for role in ("gt", "lq"):
        names = sorted(p.name for p in (pairs / role).iterdir())
        make(str(pairs / role), str(pairs / f"b{role}.lmdb"), names, [Path(n).stem for n in names], map_size=1 << 24)
    from_lmdb = PairedImageDataset(str(pairs / "bgt.lmdb"), str(pairs / "blq.lmdb"), 4, gt_size=32, use_hflip=True,
                                   use_rot=True, io_backend={"type": "lmdb"})
    from_folders = PairedImageDataset(str(pairs / "gt"), str(pairs / "lq"), 4, gt_size=32, use_hflip=True,
                                      use_rot=True)
    for key in (SampleKey(0, 11), SampleKey(3, 12)):
        a, b = from_lmdb[key], from_folders[key]
        assert torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq"], b["lq"])
        assert Path(a["lq_path"]).stem == Path(b["lq_path"]).stem


# BasicSR's train_MSRResNet_x4.yml with its "(for lmdb)" lines in use; network and schedule made tiny.
BASICSR_LMDB = """\
name: {name}
model_type: SRModel
scale: 4
num_gpu: 0
manual_seed: 0
datasets:
  train:
    name: DIV2K
    type: PairedImageDataset
    dataroot_gt: {root}/gt{ext}
    dataroot_lq: {root}/lq{ext}
    meta_info_file: basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt
    filename_tmpl: '{{}}'
    io_backend:
      type: {backend}
    gt_size: 32
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: {workers}
    batch_size_per_gpu: 2
    dataset_enlarge_ratio: 100
network_g: {{type: MSRResNet, num_in_ch: 3, num_out_ch: 3, num_feat: 8, num_block: 1, upscale: 4}}
path: {{pretrain_network_g: ~}}
train:
  optim_g: {{type: Adam, lr: 2.0e-4, weight_decay: 0, betas: [0.9, 0.99]}}
  scheduler: {{type: CosineAnnealingRestartLR, periods: [3], restart_weights: [1], eta_min: 1.0e-7}}
  total_iter: 3
  warmup_iter: -1
  pixel_opt: {{type: L1Loss, loss_weight: 1.0, reduction: mean}}
logger: {{print_freq: 1, save_checkpoint_freq: 3, use_tb_logger: false}}
"""


def test_a_run_from_lmdb_ends_with_the_weights_of_the_run_from_its_folders(pairs, monkeypatch):
    monkeypatch.chdir(pairs)
    runs = {"folders": ("", "disk", 0), "lmdb": (".lmdb", "lmdb", 1)}  # a data worker opens its own environment
    for name, (ext, backend, workers) in runs.items():
        (pairs / f"{name}.yml").write_text(BASICSR_LMDB.format(name=name, root=pairs, ext=ext, backend=backend,
                                                               workers=workers))
        with pytest.warns(UserWarning, match="meta_info_file"):
            assert train_main(["-opt", f"{name}.yml"]) == 0
    a, b = (torch.load(pairs / "experiments" / n / "models" / "net_g_3.pth", weights_only=True)["params"]
            for n in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_stopped_create_continues_and_ends_with_the_same_contents(tmp_path, monkeypatch):
    import lmdb

    from srgan_kit.data import lmdb_writer

    write_photos(tmp_path / "in", 5, 16, 16)
    create_lmdb(tmp_path / "in", tmp_path / "straight.lmdb", progress=False)
    real, calls = lmdb_writer.encode_png, []

    def stop_at_the_fourth(path, level):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(path, level)

    monkeypatch.setattr(lmdb_writer, "encode_png", stop_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        create_lmdb(tmp_path / "in", tmp_path / "parts.lmdb", commit_every=2, progress=False)
    assert not (tmp_path / "parts.lmdb" / "meta_info.txt").exists()  # incomplete: no reader takes it
    monkeypatch.setattr(lmdb_writer, "encode_png", real)
    stats = create_lmdb(tmp_path / "in", tmp_path / "parts.lmdb", progress=False)
    assert (stats["resumed"], stats["written"]) == (2, 3)

    def contents(path):
        with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
            return dict(txn.cursor())

    assert contents(tmp_path / "parts.lmdb") == contents(tmp_path / "straight.lmdb")
    assert (tmp_path / "parts.lmdb" / "meta_info.txt").read_text() == \
        (tmp_path / "straight.lmdb" / "meta_info.txt").read_text()


def test_create_refuses_an_existing_output_and_leaves_it_as_it_was(tmp_path, capsys):
    write_photos(tmp_path / "in", 1, 8, 8)
    (tmp_path / "out.lmdb").mkdir()
    (tmp_path / "out.lmdb" / "notes.txt").write_text("mine")
    assert create_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out.lmdb")]) == 2
    assert "out.lmdb: already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out.lmdb").iterdir()] == ["notes.txt"]


def test_create_refuses_names_that_would_share_a_key(tmp_path, capsys):
    write_photos(tmp_path / "in", 1, 8, 8)
    save_image(tmp_path / "in" / "0.jpg", np.zeros((8, 8, 3)))
    assert create_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "o.lmdb")]) == 2
    assert "share one: 0.jpg, 0.png" in capsys.readouterr().err and not (tmp_path / "o.lmdb").exists()


def test_a_corrupt_lmdb_is_one_line_naming_it(pairs):
    (pairs / "gt.lmdb" / "data.mdb").write_bytes(b"not an lmdb" * 500)
    with pytest.raises(DataError, match=r"^GT: .*gt\.lmdb is not a readable LMDB \("):
        LmdbStore(pairs / "gt.lmdb", "GT")


def test_a_meta_info_naming_absent_keys_is_one_line_naming_them(pairs):
    with (pairs / "gt.lmdb" / "meta_info.txt").open("a") as meta:
        meta.write("ghost.png (48,48,3) 1\n")
    with pytest.raises(DataError, match=r"meta_info\.txt names 1 key\(s\) that are not in .*data\.mdb: ghost$"):
        LmdbStore(pairs / "gt.lmdb", "GT")


def test_lmdbs_whose_keys_do_not_pair_are_one_line(pairs):
    with pytest.raises(DataError, match=r"4 GT image\(s\) have no LQ partner \(filename_tmpl '\{\}x4'\): "
                                        r".*0\.png \(expected .*lq\.lmdb/0x4\.png\)"):
        PairedImageDataset(str(pairs / "gt.lmdb"), str(pairs / "lq.lmdb"), 4, filename_tmpl="{}x4",
                           io_backend={"type": "lmdb"})


def test_an_lmdb_read_as_a_folder_and_a_folder_read_as_an_lmdb_are_one_line_each(pairs):
    with pytest.raises(DataError, match=r"gt\.lmdb is an LMDB; read it with io_backend: \{type: lmdb\}"):
        GTOnlyDataset(str(pairs / "gt.lmdb"), 4)
    with pytest.raises(DataError, match=r"gt is not an LMDB \(no data\.mdb in it\)"):
        GTOnlyDataset(str(pairs / "gt"), 4, io_backend={"type": "lmdb"})


def test_a_training_run_on_a_damaged_lmdb_stops_before_writing_anything(pairs, monkeypatch, capsys):
    monkeypatch.chdir(pairs)
    (pairs / "gt.lmdb" / "data.mdb").write_bytes(b"\0" * 8192)
    (pairs / "o.yml").write_text(BASICSR_LMDB.format(name="bad", root=pairs, ext=".lmdb", backend="lmdb", workers=0))
    with pytest.warns(UserWarning, match="meta_info_file"):
        assert train_main(["-opt", "o.yml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "gt.lmdb is not a readable LMDB" in err[0]
    assert not (pairs / "experiments").exists()

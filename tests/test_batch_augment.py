"""Batch augmentations (train.use_moa): each augmentation against hand-computed pixels, per-sample determinism,
the global batch's order under DDP, the hook after a model type's own pairs, short runs (every augmentation,
resume, 2 processes = 1), the debug pictures and the option checks."""
import math
import re

import pytest
import torch
from test_realesrnet import _options as realesrnet_options
from test_training import _write_data, net_params, options

from srgan_kit.config.schema import MOA_AUGS, MOA_PROBS
from srgan_kit.data.imageio import load_image
from srgan_kit.errors import OptionError
from srgan_kit.registry import MODEL_TYPES
from srgan_kit.training import batch_augment
from srgan_kit.training.batch_augment import AUGMENTATIONS, BatchAugment, cutblur, cutmix, draw, mixup, resizemix
from srgan_kit.training.runtime import Runtime
from srgan_kit.training.trainer import train

ALL = list(MOA_AUGS)


def _images(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _mask(height, width, rows, cols):
    """A C x H x W-broadcastable mask, True on rows[0]:rows[1] x cols[0]:cols[1] (written out by hand)."""
    mask = torch.zeros(1, height, width, dtype=torch.bool)
    for y in range(*rows):
        for x in range(*cols):
            mask[0, y, x] = True
    return mask


# ------------------------------------------------------------------------------------ each augmentation


def test_the_augmentations_are_the_option_schema_s_names_with_traiNNer_redux_s_probabilities():
    assert list(AUGMENTATIONS) == ALL == ["none", "mixup", "cutmix", "resizemix", "cutblur"]
    assert list(MOA_PROBS) == [0.4, 0.084, 0.084, 0.084, 0.348]


def test_mixup_blends_both_images_with_lambda():
    lq, gt, p_lq, p_gt = torch.ones(3, 4, 4), torch.full((3, 8, 8), 0.5), torch.zeros(3, 4, 4), torch.ones(3, 8, 8)
    out_lq, out_gt = mixup(lq, gt, p_lq, p_gt, {"lam": 0.25})
    assert torch.equal(out_lq, torch.full((3, 4, 4), 0.25))  # 0.25 * 1 + 0.75 * 0
    assert torch.equal(out_gt, torch.full((3, 8, 8), 0.875))  # 0.25 * 0.5 + 0.75 * 1


def test_cutmix_pastes_the_partner_s_box_at_the_same_place_in_lq_and_gt():
    lq, gt = _images(3, 4, 6), _images(3, 8, 12, seed=1)
    p_lq, p_gt = _images(3, 4, 6, seed=2), _images(3, 8, 12, seed=3)
    out_lq, out_gt = cutmix(lq, gt, p_lq, p_gt, {"box": (1, 3, 2, 5)})  # rows 1..2, columns 2..4 of the lq
    assert torch.equal(out_lq, torch.where(_mask(4, 6, (1, 3), (2, 5)), p_lq, lq))
    assert torch.equal(out_gt, torch.where(_mask(8, 12, (2, 6), (4, 10)), p_gt, gt))  # the box x2


def test_resizemix_pastes_the_resized_partner_into_the_box():
    lq, gt = _images(3, 4, 4), _images(3, 8, 8, seed=1)
    p_lq, p_gt = torch.full((3, 4, 4), 0.2), torch.full((3, 8, 8), 0.6)  # flat: any size of them is the same
    out_lq, out_gt = resizemix(lq, gt, p_lq, p_gt, {"box": (0, 2, 1, 3)})
    torch.testing.assert_close(out_lq, torch.where(_mask(4, 4, (0, 2), (1, 3)), 0.2, lq))
    torch.testing.assert_close(out_gt, torch.where(_mask(8, 8, (0, 4), (2, 6)), 0.6, gt))
    # a box of the whole image: the partner itself, at its own size
    whole_lq, whole_gt = resizemix(lq, gt, _images(3, 4, 4, seed=4), _images(3, 8, 8, seed=5), {"box": (0, 4, 0, 4)})
    assert torch.equal(whole_lq, _images(3, 4, 4, seed=4)) and torch.equal(whole_gt, _images(3, 8, 8, seed=5))


def test_cutblur_puts_the_gt_s_pixels_into_the_lq_s_box_and_keeps_the_gt():
    lq, gt = _images(3, 4, 4), _images(3, 4, 4, seed=1)  # scale 1: the gt's pixels themselves
    out_lq, out_gt = cutblur(lq, gt, None, None, {"box": (1, 3, 0, 2)})
    assert torch.equal(out_lq, torch.where(_mask(4, 4, (1, 3), (0, 2)), gt, lq)) and torch.equal(out_gt, gt)
    gt = torch.full((3, 8, 8), 0.7)  # scale 2: the gt's box downscaled onto the lq's grid (flat: 0.7)
    out_lq, _ = cutblur(lq, gt, None, None, {"box": (1, 3, 0, 2)})
    torch.testing.assert_close(out_lq, torch.where(_mask(4, 4, (1, 3), (0, 2)), 0.7, lq))


class _Fixed:
    """A random source whose randrange gives the values it was built with."""

    def __init__(self, *values):
        self.values = list(values)

    def randrange(self, n):
        value = self.values.pop(0)
        assert 0 <= value < n
        return value


def test_boxes_are_traiNNer_redux_s_clipped_half_sides_around_a_uniform_centre():
    # 8 x 6 lq, ratio 0.5: sides int(4), int(3) -> half sides 2, 1; centre (row 1, column 5)
    assert batch_augment._box(_Fixed(1, 5), 8, 6, 0.5) == (0, 3, 4, 6)
    assert batch_augment._box(_Fixed(4, 2), 8, 6, 0.5) == (2, 6, 1, 3)


def test_the_draw_follows_the_probabilities_and_never_pairs_a_sample_with_itself():
    only = [draw(seed, 3, 8, ALL, [0, 0, 1, 0, 0], (8, 8)) for seed in range(50)]
    assert {name for name, _, _ in only} == {"cutmix"}
    partners = {partner for _, partner, _ in only}
    assert 3 not in partners and partners <= set(range(8)) and len(partners) == 7
    assert draw(7, 0, 1, ALL, [0, 1, 0, 0, 0], (8, 8))[1] == 0  # a batch of one: its own partner
    assert all(draw(seed, 0, 8, ALL, [0, 0, 0, 0, 1], (8, 8))[1] is None for seed in range(20))  # no partner


# ------------------------------------------------------------------------------------------ a batch


def _pair(n=6, seed=0):
    return {"lq": _images(n, 3, 4, 4, seed=seed), "gt": _images(n, 3, 8, 8, seed=seed + 1)}


def test_none_leaves_the_pair_untouched():
    pair = _pair()
    out = BatchAugment(["none"], [1.0])(pair, torch.arange(6), 1)
    assert torch.equal(out["lq"], pair["lq"]) and torch.equal(out["gt"], pair["gt"])


def test_each_sample_is_augmented_from_its_own_seed_with_its_partner_s_original_images():
    pair, seeds = _pair(), torch.tensor([11, 22, 33, 44, 55, 66])
    out = BatchAugment(["mixup"], [1.0])(pair, seeds, 1)
    for i, seed in enumerate(seeds.tolist()):
        name, partner, params = draw(seed, i, 6, ["mixup"], [1.0], (4, 4))
        lam = params["lam"]
        torch.testing.assert_close(out["lq"][i], lam * pair["lq"][i] + (1 - lam) * pair["lq"][partner])
        torch.testing.assert_close(out["gt"][i], lam * pair["gt"][i] + (1 - lam) * pair["gt"][partner])


def test_the_same_seeds_give_the_same_batch_and_other_seeds_another():
    augment = BatchAugment(ALL, [0.2] * 5)
    pair, seeds = _pair(), torch.arange(6) * 1000
    first, again = augment(pair, seeds, 1), augment(pair, seeds.clone(), 1)
    other = augment(pair, seeds + 1, 1)
    assert torch.equal(first["lq"], again["lq"]) and torch.equal(first["gt"], again["gt"])
    assert not torch.equal(first["lq"], other["lq"])


def test_other_targets_get_what_the_gt_gets_with_the_partner_s_own():
    pair = _pair()
    pair["pixel_gt"] = pair["gt"] * 0.5  # a stand-in for Real-ESRGAN's sharpened GT
    out = BatchAugment(["cutmix", "resizemix", "mixup"], [0.4, 0.3, 0.3])(pair, torch.arange(6) * 7, 1)
    torch.testing.assert_close(out["pixel_gt"], out["gt"] * 0.5)
    assert not torch.equal(out["gt"], pair["gt"])


def test_a_process_s_part_is_augmented_as_its_rows_of_the_global_batch(monkeypatch):
    """Rank r's k-th sample is global position k * 2 + r: with the other rank's part gathered, each rank's
    result is its rows of one process's result on the whole batch."""
    pair, seeds = _pair(8), torch.arange(8) * 31 + 5
    augment = BatchAugment(ALL, [0.1, 0.3, 0.2, 0.2, 0.2])
    whole = augment(pair, seeds, 1)
    parts = {key: [value[r::2] for r in range(2)] for key, value in pair.items()}
    for rank in range(2):
        monkeypatch.setattr(batch_augment.distributed, "world", lambda rank=rank: (rank, 2))
        by_id = {id(parts[key][rank]): parts[key] for key in parts}
        monkeypatch.setattr(batch_augment.distributed, "gathered_tensors", lambda t: by_id[id(t)])
        local = augment({key: parts[key][rank] for key in parts}, seeds[rank::2], 1)
        for key in pair:
            assert torch.equal(local[key], whole[key][rank::2])


def test_the_augmentation_follows_a_model_type_s_own_pairs(tmp_path):
    """Real-ESRNet makes its pairs on the device (degradations); the augmentation applies to those."""
    opt = realesrnet_options(tmp_path)
    opt["train"].update(use_moa=True, moa_augs=["mixup"], moa_probs=[1.0])
    step, made = MODEL_TYPES.get("realesrnet").step(opt, Runtime()), _pair(2)
    step.training_pair = lambda loaded: made
    seeds = torch.tensor([5, 9])
    out = step.training_batch({"noise_seed": seeds}, 1)
    expected = BatchAugment(["mixup"], [1.0])(made, seeds, 1)
    assert torch.equal(out["lq"], expected["lq"]) and not torch.equal(out["lq"], made["lq"])


# --------------------------------------------------------------------------------------------- runs


@pytest.mark.filterwarnings("ignore:.*no .val. section:UserWarning")
def test_every_augmentation_trains_a_gan_and_the_first_batches_are_written(tmp_path):
    """One 3-iteration GAN run whose first two batches (moa_debug_limit) hold all five augmentations."""
    root = _write_data(tmp_path)
    _, opt = options(root, "moa", ["model_type=gan", "network_d={type: UNetDiscriminatorSN, num_feat: 4}",
                                   "train.optim_d={type: Adam, lr: 1.0e-3}", "train.total_iter=3",
                                   "train.gan_opt={type: GANLoss, gan_type: vanilla, loss_weight: 0.1}",
                                   "datasets.train.batch_size_per_gpu=4", "manual_seed=1", "train.use_moa=true",
                                   "train.moa_probs=[0.2, 0.2, 0.2, 0.2, 0.2]", "train.moa_debug=true",
                                   "train.moa_debug_limit=2", "val=~"])
    result = train(opt, progress=False)
    assert result.iteration == 3 and all(math.isfinite(v) for v in result.losses.values())
    debug = root / "experiments" / "moa" / "moa_debug"
    assert sorted(p.name for p in debug.glob("*.png")) == ["000001.png", "000002.png"]
    sheet = load_image(debug / "000001.png").rgb
    assert sheet.shape == (4 * 16, 4 * 16, 3)  # one row per sample: lq before | after | gt before | after
    lines = (debug / "augmentations.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["000001", "000002"]
    assert {name for line in lines for name in re.findall(r"\d+ ([a-z]+)", line.split(":")[1])} == set(ALL)
    log = next((root / "experiments" / "moa").glob("train_*.log")).read_text()
    assert "train.use_moa" in log and str(debug) in log


@pytest.mark.filterwarnings("ignore:.*no .val. section:UserWarning")
def test_a_resumed_run_augments_like_an_uninterrupted_one(tmp_path):
    root = _write_data(tmp_path)
    sets = ["train.use_moa=true", "train.moa_probs=[0.2, 0.2, 0.2, 0.2, 0.2]", "datasets.train.batch_size_per_gpu=4",
            "train.total_iter=4", "logger.save_checkpoint_freq=2", "val=~"]
    train(options(root, "straight", sets)[1], progress=False)
    train(options(root, "split", sets + ["train.total_iter=2"])[1], progress=False)
    train(options(root, "split", sets)[1], auto_resume=True, progress=False)
    for key in ("params", "params_ema"):
        a = net_params(root / "experiments" / "straight" / "models" / "net_g_4.pth", key)
        b = net_params(root / "experiments" / "split" / "models" / "net_g_4.pth", key)
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-7)


# ------------------------------------------------------------------------------------------ options


@pytest.mark.parametrize("sets, message", [
    (["train.moa_augs=[none, mixupp]", "train.moa_probs=[0.5, 0.5]"],
     r"train\.moa_augs: 'mixupp' is not a batch augmentation \(one of none, mixup, cutmix, resizemix, cutblur\) "
     r"\(did you mean 'mixup'\?\)"),
    (["train.moa_augs=[none, mixup]"], r"train\.moa_probs: 5 probabilities for the 2 augmentations of "
                                       r"train\.moa_augs \(none, mixup\)"),
    (["train.moa_augs=[none, mixup]", "train.moa_probs=[1.2, -0.2]"], r"train\.moa_probs: expected .* each >= 0"),
    (["train.moa_augs=[none, mixup]", "train.moa_probs=[0.5, 0.4]"], r"train\.moa_probs: \[0\.5, 0\.4\] sums to 0\.9"),
], ids=["unknown_name", "length", "negative", "sum"])
def test_bad_moa_options_are_one_line_naming_the_key(tmp_path, sets, message):
    root = _write_data(tmp_path)
    with pytest.raises(OptionError, match=message) as caught:
        options(root, "bad", ["train.use_moa=true", *sets])
    assert "\n" not in str(caught.value)


def test_the_defaults_load_and_augment_nothing_unless_asked(tmp_path):
    root = _write_data(tmp_path)
    train_opt = options(root)[1]["train"]
    assert train_opt["use_moa"] is False and train_opt["moa_augs"] == ALL and train_opt["moa_probs"] == list(MOA_PROBS)
    assert BatchAugment.from_options(options(root)[1]) is None
    assert train_opt["moa_debug"] is False and train_opt["moa_debug_limit"] == 100

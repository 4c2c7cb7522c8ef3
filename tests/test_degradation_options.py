"""The values of Real-ESRGAN's degradation keys (top level and the training set's kernel keys) are checked by key
when the option file is loaded, before anything is written; the preview tool and the degradation built without
an option file refuse the same values."""
import random

import pytest
import yaml

from srgan_kit.cli.preview_degradations import main as preview_main
from srgan_kit.config.options import OptionWarning, load_options
from srgan_kit.data.degradation_keys import KERNEL_DEFAULTS, RESIZE_CHOICES, STAGE_DEFAULTS, degradation_problems
from srgan_kit.data.realworld import kernel_settings, stage_settings
from srgan_kit.errors import ArgumentError, OptionError

OPTIONS = {
    "name": "degraded", "model_type": "RealESRNetModel", "scale": 2, "num_gpu": 0, "gt_size": 32, "queue_size": 4,
    "datasets": {"train": {"type": "RealESRGANDataset", "dataroot_gt": "data/gt", "crop_pad_size": 48,
                           "gt_size": 32, "batch_size_per_gpu": 2}},
    "network_g": {"type": "MSRResNet", "num_feat": 8, "num_block": 1, "upscale": 2},
    "train": {"optim_g": {"type": "Adam", "lr": 1e-3}, "total_iter": 6,
              "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0}},
}


def _file(tmp_path, top=None, train_set=None):
    data = yaml.safe_load(yaml.safe_dump(OPTIONS))
    data.update(top or {})
    data["datasets"]["train"].update(train_set or {})
    path = tmp_path / "degraded.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _load(tmp_path, top=None, train_set=None):
    return load_options(_file(tmp_path, top, train_set), root=tmp_path, check_paths=False)


TOP, DATA = "top", "datasets.train."
BAD = [  # (where, key, value, the line's text after 'key: ')
    (TOP, "resize_prob", [0, 0, 0], "[0, 0, 0]: weights of [up, down, keep], each >= 0 and not all 0"),
    (TOP, "resize_prob2", [-1, 1, 1], "[-1, 1, 1]: weights of [up, down, keep], each >= 0 and not all 0"),
    (TOP, "resize_range", [1.5, 0.15], "[1.5, 0.15]: resize factors [down, up] need 0 < down <= 1 <= up"),
    (TOP, "resize_range2", [0, 1.2], "[0, 1.2]: resize factors [down, up] need 0 < down <= 1 <= up"),
    (TOP, "gaussian_noise_prob", 1.5, "1.5: a probability is 0..1"),
    (TOP, "noise_range", [-1, 30], "[-1, 30]: Gaussian noise sigma (of 255) needs 0 <= first <= second"),
    (TOP, "noise_range2", [25, 1], "[25, 1]: Gaussian noise sigma (of 255) needs 0 <= first <= second"),
    (TOP, "poisson_scale_range", [-0.05, 3], "[-0.05, 3]: Poisson noise scale needs 0 <= first <= second"),
    (TOP, "gray_noise_prob2", 2, "2: a probability is 0..1"),
    (TOP, "jpeg_range", [0, 0], "[0, 0]: JPEG quality is 1..100 (first <= second, first below 100)"),
    (TOP, "jpeg_range2", [30, 101], "[30, 101]: JPEG quality is 1..100 (first <= second, first below 100)"),
    (TOP, "jpeg_prob", 1.5, "expected a number in [0, 1], got 1.5"),  # its Field says so first
    (TOP, "second_blur_prob", 1.2, "1.2: a probability is 0..1"),
    (TOP, "resize_mode_prob3", [0, 0, 0], "[0, 0, 0]: weights of the 3 modes of resize_mode_list3, each >= 0 and "
                                          "not all 0"),
    (DATA, "blur_kernel_size", 20, "20: a kernel size is odd and >= 3"),
    (DATA, "blur_kernel_size2", 1, "1: a kernel size is odd and >= 3"),
    (DATA, "kernel_list2", [], "[]: a list of kernel types (iso, aniso, generalized_iso, generalized_aniso, "
                               "plateau_iso, plateau_aniso)"),
    (DATA, "kernel_prob", [0.5, 0.5], "2 probabilities for the 6 kernel types of kernel_list: give one per kernel "
                                      "type"),
    (DATA, "kernel_prob2", [1, 0, 0, 0, 0, -1], "[1, 0, 0, 0, 0, -1]: weights of the 6 kernel types of "
                                                "kernel_list2, each >= 0 and not all 0"),
    (DATA, "sinc_prob", -0.1, "-0.1: a probability is 0..1"),
    (DATA, "blur_sigma", [0, 3], "[0, 3]: blur sigma needs 0 < first < second"),
    (DATA, "blur_sigma2", [1.5, 0.2], "[1.5, 0.2]: blur sigma needs 0 < first < second"),
    (DATA, "betag_range", [0, 4], "[0, 4]: generalized Gaussian shape needs 0 < first < second"),
    (DATA, "betap_range2", [2, 1], "[2, 1]: plateau shape needs 0 < first < second"),
    (DATA, "final_sinc_prob", 1.5, "1.5: a probability is 0..1"),
]


@pytest.mark.parametrize("where, key, value, why", BAD, ids=[case[1] for case in BAD])
def test_a_bad_degradation_value_is_one_line_naming_its_key(tmp_path, where, key, value, why):
    given = {key: value}
    with pytest.raises(OptionError) as caught:
        _load(tmp_path, *((given, None) if where == TOP else (None, given)))
    path = key if where == TOP else where + key
    assert str(caught.value) == f"{tmp_path / 'degraded.yml'}: {path}: {why}"


@pytest.mark.parametrize("key", [k for k in {**STAGE_DEFAULTS, **KERNEL_DEFAULTS}
                                 if not isinstance(STAGE_DEFAULTS.get(k, KERNEL_DEFAULTS.get(k)), bool)
                                 and not k.startswith("resize_mode_list")])  # names: their Field's enum
def test_every_degradation_key_has_its_values_checked(key):
    defaults = STAGE_DEFAULTS if key in STAGE_DEFAULTS else KERNEL_DEFAULTS
    assert [k for k, _ in degradation_problems({**defaults, key: "x"})] == [key]


def test_a_misspelt_kernel_type_is_answered_with_the_nearest_name(tmp_path):
    with pytest.raises(OptionError) as caught:
        _load(tmp_path, train_set={"kernel_list2": ["iso", "generalised_aniso"], "kernel_prob2": [0.5, 0.5]})
    assert str(caught.value).endswith(
        "datasets.train.kernel_list2: 'generalised_aniso' is not a kernel type (did you mean 'generalized_aniso'?); "
        "kernel types: iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso")


def test_resize_weights_need_not_add_up_to_one():
    assert degradation_problems({**STAGE_DEFAULTS, "resize_prob": [2, 7, 1]}) == []
    # random.choices divides by the sum: the same draws as Real-ESRGAN's [0.2, 0.7, 0.1]
    draws = [random.Random(5).choices(RESIZE_CHOICES, weights, k=50) for weights in ([2, 7, 1], [0.2, 0.7, 0.1])]
    assert draws[0] == draws[1]


def test_a_blur_kernel_size_other_than_21_is_loaded_with_a_warning_that_it_is_not_used(tmp_path):
    with pytest.warns(OptionWarning):
        warnings = _load(tmp_path, train_set={"blur_kernel_size2": 11})["_warnings"]
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "datasets.train.blur_kernel_size2: 11 is not used: as in Real-ESRGAN, each kernel's size is drawn from 7..21 "
        "and padded to 21"]


def test_the_preview_refuses_a_bad_value_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "preview"
    assert preview_main(["-opt", str(_file(tmp_path, top={"jpeg_range": [0, 0]})), "-o", str(out)]) == 2
    assert "jpeg_range: [0, 0]: JPEG quality is 1..100" in capsys.readouterr().err
    assert not out.exists()


def test_the_degradation_built_without_an_option_file_refuses_the_same_values():
    with pytest.raises(ArgumentError, match=r"^jpeg_range2: \[0, 0\]: JPEG quality is 1..100"):
        stage_settings({"jpeg_range2": [0, 0]})
    with pytest.raises(ArgumentError, match=r"^kernel_list: 'isotropic' is not a kernel type"):
        kernel_settings({"kernel_list": ["isotropic"], "kernel_prob": [1]})

"""LDLLoss: the artifact map of Liang et al. (image-level residual variance ^ 1/5 times the 7x7 local variance,
zero where the EMA generator is worse), computed by hand with numpy; the term needs the EMA."""
import numpy as np
import pytest
import torch

from srgan_kit.errors import OptionError
from srgan_kit.losses.artifacts import LDLLoss, artifact_map
from test_generator_loss import batch, build_step, resolve, sr_options, workdir  # noqa: F401  (a tiny sr run)


def numpy_artifact_map(gt, sr, ema, ksize):
    residual, residual_ema = np.abs(gt - sr).sum(0), np.abs(gt - ema).sum(0)
    pad = ksize // 2
    padded = np.pad(residual, pad, mode="reflect")
    local = np.array([[padded[i:i + ksize, j:j + ksize].var(ddof=1) for j in range(residual.shape[1])]
                      for i in range(residual.shape[0])])
    weight = residual.var(ddof=1) ** 0.2 * local
    weight[residual < residual_ema] = 0
    return weight


def images(seed):
    rng = np.random.default_rng(seed)
    return [rng.random((3, 10, 9)) for _ in range(3)]


def test_the_artifact_map_equals_the_papers_definition_by_hand():
    gt, sr, ema = images(0)
    ours = artifact_map(*(torch.from_numpy(a)[None] for a in (gt, sr, ema)), ksize=7)[0, 0].numpy()
    np.testing.assert_allclose(ours, numpy_artifact_map(gt, sr, ema, 7), rtol=1e-6, atol=1e-9)


def test_the_loss_is_the_l1_of_the_weighted_images():
    gt, sr, ema = (torch.from_numpy(a)[None] for a in images(1))
    weight = torch.from_numpy(numpy_artifact_map(*(t[0].numpy() for t in (gt, sr, ema)), 7))
    expected = (weight * (sr - gt)).abs().mean().item()
    assert LDLLoss(loss_weight=0.5)(sr, gt, ema).item() == pytest.approx(0.5 * expected, rel=1e-6)


def test_where_the_online_generator_beats_its_ema_nothing_is_penalised():
    gt, sr, _ = (torch.from_numpy(a)[None] for a in images(2))
    worse_ema = gt + 2 * (sr - gt)  # the EMA's residual is twice the online one everywhere
    assert LDLLoss()(sr, gt, worse_ema).item() == 0


def test_ldl_without_the_ema_is_refused_by_key(workdir):  # noqa: F811
    opt = resolve(workdir, sr_options(workdir, ema_decay=0, losses=[{"type": "LDLLoss"}]))
    with pytest.raises(OptionError, match=r"train.losses.0: LDLLoss compares G with its EMA, which is off"):
        build_step(opt)


def test_a_step_hands_ldl_the_ema_generator_s_output(workdir):  # noqa: F811
    step = build_step(resolve(workdir, sr_options(workdir, ema_decay=0.9, losses=[{"type": "LDLLoss"}])))
    seen = []
    step.ema.module.register_forward_hook(lambda module, args, out: seen.append(out))
    losses = step.run(batch(), 1)
    assert len(seen) == 1 and losses["l_ldl"] > 0

"""torch's NAdam / RAdam and pytorch-optimizer's Adan, ADOPT, SOAP, StableAdamW by name: the library's own update,
a short run with each, and a misspelt name."""
import copy

import pytest
import torch

from srgan_kit.errors import OptionError
from srgan_kit.training.optim import build_optimizer
from test_training import options, train, workdir  # noqa: F401  (the tiny PSNR run and its data)

LIBRARY = ["Adan", "ADOPT", "SOAP", "StableAdamW"]
ALL = ["NAdam", "RAdam", *LIBRARY]


@pytest.mark.parametrize("name", LIBRARY)
def test_a_library_optimiser_steps_exactly_as_the_library_does(name):
    import pytorch_optimizer

    torch.manual_seed(0)
    ours_net = torch.nn.Conv2d(3, 4, 3)
    theirs_net = copy.deepcopy(ours_net)
    ours = build_optimizer({"type": name, "lr": 1e-2, "weight_decay": 0.01}, ours_net.parameters())
    theirs = getattr(pytorch_optimizer, name)(theirs_net.parameters(), lr=1e-2, weight_decay=0.01)
    x = torch.randn(2, 3, 8, 8)
    for _ in range(3):
        for net, opt in ((ours_net, ours), (theirs_net, theirs)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    assert type(ours) is type(theirs)
    assert all(torch.equal(a, b) for a, b in zip(ours_net.parameters(), theirs_net.parameters()))


@pytest.mark.parametrize("name", ALL)
def test_each_optimiser_trains_three_iterations(name, workdir):  # noqa: F811
    betas = "[0.98,0.92,0.99]" if name == "Adan" else "[0.9,0.99]"  # Adan's three
    _, opt = options(workdir, name=name.lower(), sets=[f"train.optim_g.type={name}", f"train.optim_g.betas={betas}",
                                                       "train.total_iter=3", "val.val_freq=3",
                                                       "logger.save_checkpoint_freq=3"])
    result = train(opt, progress=False)
    assert result.iteration == 3 and all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())


def test_adan_with_two_betas_is_refused_by_key(workdir):  # noqa: F811
    with pytest.raises(OptionError, match="train.optim_g.betas: expected a list of 3 items for Adan"):
        options(workdir, name="adan2", sets=["train.optim_g.type=Adan"])


def test_a_misspelt_optimiser_names_the_nearest(workdir):  # noqa: F811
    with pytest.raises(OptionError, match="did you mean 'Adan'"):
        options(workdir, sets=["train.optim_g.type=Adann"])

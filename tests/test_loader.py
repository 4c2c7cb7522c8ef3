"""The training loader's keys (pin_memory, persistent_workers, prefetch_factor, prefetch_mode, num_prefetch_queue)
and the CUDA prefetcher (srgan_kit.training.prefetch): the keys reach the DataLoader, change no result on a CPU,
and the prefetcher resumes at the batches the step consumed."""
import warnings

import pytest
import torch
from test_training import _Numbers, _write_data, net_params, options

from srgan_kit.config.options import OptionWarning
from srgan_kit.errors import OptionError
from srgan_kit.training import prefetch
from srgan_kit.training.prefetch import DevicePrefetcher
from srgan_kit.training.runtime import EpochSampler, InfiniteLoader, Runtime
from srgan_kit.training.trainer import build_train_loader, train

RUN = ["train.total_iter=3", "logger.save_checkpoint_freq=3"]


def numbers_loader():
    return InfiniteLoader(_Numbers(), EpochSampler(7, shuffle=True, seed=5), batch_size=2)  # 3 batches an epoch


class FakeCopy:
    """StreamCopy's interface on the CPU: records what is copied and handed over, in order."""

    def __init__(self):
        self.calls = []

    def start(self, batch):
        self.calls.append(("start", batch["i"].tolist()))
        return batch, len(self.calls)

    def hand_over(self, batch, done):
        self.calls.append(("hand_over", batch["i"].tolist()))


# --------------------------------------------------------------------------------------------- the keys


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return _write_data(tmp_path_factory.mktemp("loader"))


def test_the_keys_reach_the_data_loader(workdir):
    _, opt = options(workdir, sets=["datasets.train.num_worker_per_gpu=1", "datasets.train.prefetch_factor=3",
                                    "datasets.train.persistent_workers=false"])
    loader = build_train_loader(opt, Runtime(), 1)._loader
    assert (loader.num_workers, loader.prefetch_factor, loader.persistent_workers) == (1, 3, False)


@pytest.mark.parametrize("workers, expected", [(0, (None, False, False)), (1, (2, True, False))])
def test_defaults_build_the_data_loader_of_before(workdir, workers, expected):
    _, opt = options(workdir, sets=[f"datasets.train.num_worker_per_gpu={workers}"])
    spec = opt["datasets"]["train"]
    assert (spec["pin_memory"], spec["persistent_workers"], spec["prefetch_factor"], spec["prefetch_mode"]) == (
        True, True, None, None)
    loader = build_train_loader(opt, Runtime(), 1)._loader
    # torch's own prefetch depth; workers persistent when there are some; batches unpinned on a CPU
    assert (loader.prefetch_factor, loader.persistent_workers, loader.pin_memory) == expected


@pytest.mark.parametrize("keys, pinned", [({}, True), ({"pin_memory": False}, False)])
def test_batches_are_pinned_on_cuda_unless_pin_memory_is_off(keys, pinned):
    loader = Runtime(device=torch.device("cuda")).train_loader(_Numbers(), 2, 0, True, 1, **keys)
    assert loader._loader.pin_memory is pinned


def test_prefetch_mode_cuda_pins_even_with_pin_memory_off(monkeypatch):
    monkeypatch.setattr(prefetch, "StreamCopy", lambda device, move: FakeCopy())  # no CUDA stream here
    loader = Runtime(device=torch.device("cuda")).train_loader(_Numbers(), 2, 0, True, 1, pin_memory=False,
                                                               prefetch_mode="cuda", num_prefetch_queue=2)
    assert isinstance(loader, DevicePrefetcher) and loader.depth == 2 and loader.loader._loader.pin_memory


def test_prefetch_mode_cuda_on_a_cpu_is_one_warning_and_the_plain_loader():
    with pytest.warns(UserWarning, match=r"^datasets.train.prefetch_mode: 'cuda' needs a CUDA device") as caught:
        loader = Runtime().train_loader(_Numbers(), 2, 0, True, 1, prefetch_mode="cuda")
    assert type(loader) is InfiniteLoader and len(caught) == 1


def test_a_cpu_run_with_the_keys_set_trains_the_same_weights(workdir):
    keys = ["datasets.train.persistent_workers=false", "datasets.train.pin_memory=false",
            "datasets.train.prefetch_mode=cuda", "datasets.train.num_prefetch_queue=2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prefetch_mode cuda on this CPU; pin_memory false beside it
        for name, sets in (("plain", RUN), ("keyed", RUN + keys)):
            train(options(workdir, name, sets)[1], progress=False)
    a, b = (net_params(workdir / "experiments" / name / "models" / "net_g_3.pth") for name in ("plain", "keyed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_workers_with_their_keys_load_the_batches_of_none(workdir):
    # (a run's loader is freed by the garbage collector, which stops a worker only after a 5 s timeout: the
    # loaders are compared here, freed as soon as they are dropped)
    _, plain = options(workdir, sets=["datasets.train.num_worker_per_gpu=0"])
    _, keyed = options(workdir, sets=["datasets.train.num_worker_per_gpu=1", "datasets.train.prefetch_factor=3",
                                      "datasets.train.persistent_workers=false"])
    batches = [[next(loader)["gt"] for _ in range(3)]
               for loader in (build_train_loader(opt, Runtime(), 1) for opt in (plain, keyed))]
    assert all(torch.equal(a, b) for a, b in zip(*batches))


# --------------------------------------------------------------------------------------------- option checks


@pytest.mark.parametrize("sets, words", [
    (["datasets.train.prefetch_factor=2"], "datasets.train.prefetch_factor: 2 needs num_worker_per_gpu > 0"),
    (["datasets.train.num_worker_per_gpu=1", "datasets.train.prefetch_factor=0"],
     "datasets.train.prefetch_factor: .*> 0"),
    (["datasets.train.prefetch_mode=gpu"], "datasets.train.prefetch_mode: .*'cpu', 'cuda'"),
    (["datasets.train.prefetch_mode=cuda", "datasets.train.num_prefetch_queue=0"],
     "datasets.train.num_prefetch_queue: .*> 0"),
    (["datasets.train.persistent_workers=3"], "datasets.train.persistent_workers: .*true or false"),
])
def test_bad_loader_values_are_one_line_naming_the_key(workdir, sets, words):
    with pytest.raises(OptionError, match=words) as caught:
        options(workdir, sets=sets)
    assert len(str(caught.value).strip().splitlines()) == 1


@pytest.mark.parametrize("sets, words", [
    (["datasets.train.num_prefetch_queue=2"], "datasets.train.num_prefetch_queue: used with prefetch_mode: cuda"),
    (["datasets.train.prefetch_mode=cuda", "datasets.train.pin_memory=false"],
     "datasets.train.pin_memory: false, but prefetch_mode: cuda copies from page-locked memory; pinned anyway"),
])
def test_loader_keys_that_do_nothing_as_set_warn_once(workdir, sets, words):
    with pytest.warns(OptionWarning) as caught:
        options(workdir, sets=sets)
    assert [str(w.message) for w in caught if words in str(w.message)] and len(caught) == 1


def test_validation_sets_list_the_loader_keys_as_unused(workdir):
    with pytest.warns(OptionWarning, match="datasets.val.persistent_workers: not used for validation"):
        _, opt = options(workdir, sets=["datasets.val.persistent_workers=true"])
    assert "persistent_workers" not in opt["datasets"]["val"]


# --------------------------------------------------------------------------------------------- the prefetcher


@pytest.mark.parametrize("depth", [1, 2])
def test_prefetcher_resume_state_is_the_plain_loaders_after_each_consumed_batch(depth):
    plain, ahead = numbers_loader(), DevicePrefetcher(numbers_loader(), FakeCopy(), depth)
    for _ in range(8):  # past two epoch ends (3 batches an epoch)
        assert next(ahead)["i"].tolist() == next(plain)["i"].tolist()
        assert ahead.state_dict() == plain.state_dict() and (ahead.epoch, ahead.batch) == (plain.epoch, plain.batch)
    assert ahead.loader.state_dict() != plain.state_dict()  # it has loaded ahead; that is not what resume sees


def test_a_run_resumed_from_the_prefetchers_state_sees_the_uninterrupted_batches():
    straight = numbers_loader()
    batches = [next(straight)["i"].tolist() for _ in range(9)]
    ahead = DevicePrefetcher(numbers_loader(), FakeCopy())
    for _ in range(5):
        next(ahead)
    resumed = DevicePrefetcher(numbers_loader(), FakeCopy())
    resumed.load_state_dict(ahead.state_dict())
    assert [next(resumed)["i"].tolist() for _ in range(4)] == batches[5:]


def test_loading_a_state_drops_the_batches_already_prefetched():
    straight = numbers_loader()
    batches = [next(straight)["i"].tolist() for _ in range(6)]
    ahead = DevicePrefetcher(numbers_loader(), FakeCopy(), depth=2)
    next(ahead)
    ahead.load_state_dict({"epoch": 1, "batch": 1})
    assert (ahead.epoch, ahead.batch) == (1, 1) and next(ahead)["i"].tolist() == batches[4]


def test_the_next_batchs_copy_starts_before_the_current_one_is_handed_over():
    plain = [batch["i"].tolist() for batch, _ in zip(numbers_loader(), range(3))]
    copier = FakeCopy()
    ahead = DevicePrefetcher(numbers_loader(), copier)
    next(ahead), next(ahead)
    assert copier.calls == [("start", plain[0]), ("start", plain[1]), ("hand_over", plain[0]),
                            ("start", plain[2]), ("hand_over", plain[1])]


def test_the_prefetcher_reads_through_to_the_loader():
    ahead = DevicePrefetcher(numbers_loader(), FakeCopy())
    assert ahead.per_epoch == 3 and ahead.sampler.repeats == 1 and len(ahead.dataset) == 7


# --------------------------------------------------------------------------------------------- on a GPU

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (make gpu-check)")


class _Images(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, key):
        index, seed = key
        return {"gt": torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(seed)), "noise_seed": seed}


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("depth", [1, 2])
def test_cuda_prefetcher_hands_out_the_plain_loaders_batches_on_the_device(depth):
    runtime = Runtime(device=torch.device("cuda"), channels_last=True)
    plain = runtime.train_loader(_Images(), 2, 0, True, 1)
    ahead = runtime.train_loader(_Images(), 2, 0, True, 1, prefetch_mode="cuda", num_prefetch_queue=depth)
    assert isinstance(ahead, DevicePrefetcher) and ahead.loader._loader.pin_memory
    for _ in range(6):
        a, b = next(ahead), runtime.to_device(next(plain))
        assert a["gt"].is_cuda and a["gt"].is_contiguous(memory_format=torch.channels_last)
        assert a["noise_seed"].device.type == "cpu"  # the steps read seeds on the CPU
        assert torch.equal(a["gt"], b["gt"]) and ahead.state_dict() == plain.state_dict()


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("workers", [0, 1])
def test_a_cuda_run_with_prefetch_mode_cuda_trains_the_same_weights(workdir, workers):
    gpu = RUN + ["num_gpu=1", "deterministic=true", f"datasets.train.num_worker_per_gpu={workers}"]
    _, plain = options(workdir, f"gpu_plain{workers}", gpu)
    _, ahead = options(workdir, f"gpu_ahead{workers}", gpu + ["datasets.train.prefetch_mode=cuda"])
    for opt in (plain, ahead):
        train(opt, progress=False)
    a, b = (net_params(workdir / "experiments" / f"gpu_{name}{workers}" / "models" / "net_g_3.pth")
            for name in ("plain", "ahead"))
    assert all(torch.equal(a[k], b[k]) for k in a)

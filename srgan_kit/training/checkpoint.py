"""Checkpoints in BasicSR's layout, written atomically and read with ``weights_only=True``.

experiments/<name>/models/net_g_<iter>.pth     {'params': ..., 'params_ema': ...}
experiments/<name>/training_states/<iter>.state optimisers, schedulers, EMA, iteration, epoch, RNG

Networks are written before the state, and every file goes to a temporary name in the same folder
first, then os.replace: a crash never leaves a file under a final name that is incomplete, so the
newest ``<iter>.state`` is always a complete, resumable checkpoint.
"""
import random
import re
from pathlib import Path

import numpy as np
import torch

from srgan_kit.archs.loading import load_network
from srgan_kit.archs.weights import read_checkpoint
from srgan_kit.errors import OptionError, TrainingDiverged, WeightsError
from srgan_kit.fileio import atomic_open
from srgan_kit.training.layout import models_dir_of_state
from srgan_kit.training.runtime import unwrap

STATE_NAME = re.compile(r"^(\d+)\.state$")


def atomic_save(obj, path):
    """torch.save to a temp file beside ``path``, fsync, then rename over it; no partial file on failure."""
    with atomic_open(path, fsync=True) as handle:
        torch.save(obj, handle)
    return path


def network_path(models_dir, name, iteration):
    return Path(models_dir) / f"{name}_{iteration}.pth"


def state_path(states_dir, iteration):
    return Path(states_dir) / f"{iteration}.state"


def bare_state_dict(net):
    """CPU state dict of the underlying module (no wrapper's 'module.' prefix)."""
    return {k: v.detach().cpu() for k, v in unwrap(net).state_dict().items()}


def save_networks(models_dir, iteration, networks):
    """networks: {'net_g': {'params': module, 'params_ema': module}, ...} -> one file per network.
    Weights that are not finite are never written (TrainingDiverged names the tensor)."""
    files = {name: {key: bare_state_dict(net) for key, net in by_key.items() if net is not None}
             for name, by_key in networks.items()}
    for name, obj in files.items():
        for key, sd in obj.items():
            bad = next((k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
            if bad is not None:
                raise TrainingDiverged(f"iteration {iteration}: {name} {key} {bad} is not finite; not saved")
    return [atomic_save(obj, network_path(models_dir, name, iteration)) for name, obj in files.items()]


def capture_rng():
    """RNG states as tensors / lists / ints only, so weights_only loading accepts them."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state):
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    nps = state["numpy"]
    np.random.set_state((nps["kind"], nps["keys"].numpy().astype(np.uint32), nps["pos"], nps["has_gauss"],
                         nps["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(paths, iteration, networks, state):
    """Write the network files, then ``training_states/<iter>.state`` (so a state implies its networks)."""
    save_networks(paths["models"], iteration, networks)
    return atomic_save({**state, "iter": iteration}, state_path(paths["training_states"], iteration))


def find_latest_state(states_dir):
    """Path of the highest ``<iter>.state`` in ``states_dir`` (temporary files are ignored), or None."""
    states_dir = Path(states_dir)
    if not states_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in states_dir.iterdir() if (m := STATE_NAME.match(p.name)) and p.is_file()]
    return max(found)[1] if found else None


def load_training_state(path):
    path = Path(path)
    if not path.is_file():
        raise OptionError(f"path.resume_state: no training state at {path}")
    state = read_checkpoint(path, "training state")
    if not isinstance(state, dict) or "iter" not in state:
        raise WeightsError(f"{path}: not a srgan_kit training state (no 'iter')")
    return state


def resume_networks(state_file, iteration, networks):
    """Load each network's 'params' from models/<name>_<iter>.pth beside the state's run folder."""
    models_dir = models_dir_of_state(state_file)
    for name, by_key in networks.items():
        path = network_path(models_dir, name, iteration)
        if not path.is_file():
            raise WeightsError(f"{state_file}: the matching network file {path} is missing")
        load_network(unwrap(by_key["params"]), str(path), param_key="params", strict=True)


def final_generator(opt):
    """(weights file, param_key) a finished run is judged by: models/net_g_latest.pth, and its EMA weights
    when the run kept an EMA (as BasicSR's validation does)."""
    key = "params_ema" if opt["train"]["ema_decay"] > 0 else "params"
    return Path(opt["path"]["models"]) / "net_g_latest.pth", key

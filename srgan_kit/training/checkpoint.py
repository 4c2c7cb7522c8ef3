"""Checkpoints in BasicSR's layout, written atomically and read with ``weights_only=True``.

experiments/<name>/models/net_g_<iter>.pth     {'params': ..., 'params_ema': ...}
experiments/<name>/training_states/<iter>.state optimisers, schedulers, EMA, iteration, epoch, RNG

With ``logger.save_format: safetensors`` each state dict is a file of its own, named as traiNNer-redux names
them and readable by spandrel, chaiNNer and ComfyUI as they are::

experiments/<name>/models/net_g_<iter>.safetensors       params
experiments/<name>/models/net_g_ema_<iter>.safetensors   params_ema

Training states are always PyTorch files. A run resumed in the other format removes, at its first save, the
``*_latest`` files of the earlier format (and its ``*_best`` once this format has one), so that a tool taking "the
latest" never reads older weights.

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
from srgan_kit.archs.weights import read_checkpoint, to_safetensors
from srgan_kit.errors import OptionError, TrainingDiverged, WeightsError
from srgan_kit.fileio import atomic_open
from srgan_kit.run_folder import models_dir_of_state
from srgan_kit.training.runtime import unwrap

STATE_NAME = re.compile(r"^(\d+)\.state$")


def _write_pth(models_dir, name, iteration, by_key):
    return [atomic_save(by_key, network_path(models_dir, name, iteration, "pth"))]


def _write_safetensors(models_dir, name, iteration, by_key):
    paths = []
    for key, state_dict in by_key.items():
        path = network_path(models_dir, name, iteration, "safetensors", key)
        with atomic_open(path, fsync=True) as handle:
            handle.write(to_safetensors(state_dict))
        paths.append(path)
    return paths


# logger.save_format: (file suffix, writer of one network's {param key: state dict} -> the paths written)
SAVE_FORMATS = {"pth": (".pth", _write_pth), "safetensors": (".safetensors", _write_safetensors)}


def atomic_save(obj, path):
    """torch.save to a temp file beside ``path``, fsync, then rename over it; no partial file on failure."""
    with atomic_open(path, fsync=True) as handle:
        torch.save(obj, handle)
    return path


def network_path(models_dir, name, iteration, save_format="pth", key="params"):
    """The file holding ``key`` of network ``name``: one .pth holds every key (BasicSR's layout); in safetensors
    the EMA has its own ``<name>_ema_<iter>`` file."""
    stem = f"{name}_ema" if save_format != "pth" and key == "params_ema" else name
    return Path(models_dir) / f"{stem}_{iteration}{SAVE_FORMATS[save_format][0]}"


def param_key_in(save_format, key):
    """What a loader passes as param_key for ``key`` in a file of that format (a safetensors file is bare)."""
    return key if save_format == "pth" else None


def saved_network(models_dir, name, iteration):
    """(file of the network's 'params', its format) of that iteration, in whichever format it was saved, or
    (None, None)."""
    for fmt in SAVE_FORMATS:
        path = network_path(models_dir, name, iteration, fmt)
        if path.is_file():
            return path, fmt
    return None, None


def remove_other_formats(models_dir, save_format):
    """Delete ``*_latest`` network files of formats other than ``save_format``, and their ``*_best`` when this
    format has its own best (until then they are still the best weights); -> the paths removed."""
    models_dir = Path(models_dir)
    this = SAVE_FORMATS[save_format][0]
    labels = ("latest", "best") if any(models_dir.glob(f"*_best{this}")) else ("latest",)
    removed = sorted(path for fmt, (suffix, _) in SAVE_FORMATS.items() if fmt != save_format
                     for label in labels for path in models_dir.glob(f"*_{label}{suffix}"))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _missing_network(models_dir, name, iteration):
    """The file a resume needed: in the format of the run's other files of that iteration, else either."""
    models_dir = Path(models_dir)
    written = [fmt for fmt, (suffix, _) in SAVE_FORMATS.items() if any(models_dir.glob(f"*_{iteration}{suffix}"))]
    if len(written) == 1:
        return str(network_path(models_dir, name, iteration, written[0]))
    return " or ".join(str(network_path(models_dir, name, iteration, fmt)) for fmt in SAVE_FORMATS)


def state_path(states_dir, iteration):
    return Path(states_dir) / f"{iteration}.state"


def bare_state_dict(net):
    """CPU state dict of the underlying module (no wrapper's 'module.' prefix)."""
    return {k: v.detach().cpu() for k, v in unwrap(net).state_dict().items()}


def save_networks(models_dir, iteration, networks, save_format="pth"):
    """networks: {'net_g': {'params': module, 'params_ema': module}, ...} -> one file per network.
    Weights that are not finite are never written (TrainingDiverged names the tensor)."""
    files = {name: {key: bare_state_dict(net) for key, net in by_key.items() if net is not None}
             for name, by_key in networks.items()}
    for name, obj in files.items():
        for key, sd in obj.items():
            bad = next((k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
            if bad is not None:
                raise TrainingDiverged(f"iteration {iteration}: {name} {key} {bad} is not finite; not saved")
    write = SAVE_FORMATS[save_format][1]
    return [path for name, obj in files.items() for path in write(models_dir, name, iteration, obj)]


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


def save_checkpoint(paths, iteration, networks, state, save_format="pth"):
    """Write the network files, then ``training_states/<iter>.state`` (so a state implies its networks)."""
    save_networks(paths["models"], iteration, networks, save_format)
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
    """Load each network's 'params' from models/<name>_<iter>.pth (or .safetensors) beside the state's run
    folder."""
    models_dir = models_dir_of_state(state_file)
    for name, by_key in networks.items():
        path, fmt = saved_network(models_dir, name, iteration)
        if path is None:
            raise WeightsError(f"{state_file}: the matching network file "
                               f"{_missing_network(models_dir, name, iteration)} is missing")
        load_network(unwrap(by_key["params"]), str(path), param_key=param_key_in(fmt, "params"), strict=True)


def final_generator(opt):
    """(weights file, param_key) a finished run is judged by: models/net_g_latest.pth (.safetensors), and its EMA
    weights when the run kept an EMA (as BasicSR's validation does)."""
    key, fmt = "params_ema" if opt["train"]["ema_decay"] > 0 else "params", opt["logger"]["save_format"]
    return network_path(opt["path"]["models"], "net_g", "latest", fmt, key), param_key_in(fmt, key)

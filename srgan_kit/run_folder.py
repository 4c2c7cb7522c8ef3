"""The run folder of a training run, in one place (BasicSR's layout)::

    experiments/<name>/                  experiments_root, log: train_<name>_<time>.log / .yml, tb_logger/
    experiments/<name>/models/           net_g_<iter>.pth, net_g_latest.pth, net_d_<iter>.pth
    experiments/<name>/training_states/  <iter>.state
    experiments/<name>/visualization/    validation images
"""
import os
import time
from pathlib import Path

RUN_KEYS = ("experiments_root", "models", "training_states", "log", "visualization")


def run_paths(run_dir):
    """``opt['path']`` entries of a run whose folder is ``run_dir`` (absolute)."""
    run = os.path.abspath(str(run_dir))
    return {"experiments_root": run, "models": os.path.join(run, "models"),
            "training_states": os.path.join(run, "training_states"), "log": run,
            "visualization": os.path.join(run, "visualization")}


def models_dir_of_state(state_file):
    """The models/ folder that belongs with a training_states/<iter>.state file."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(str(state_file)))), "models")


def prepare_run_folder(paths, resuming):
    """Make experiments/<name>/...; an existing folder of a fresh run is renamed <name>_archived_<time>.

    Returns the archive's path, or None.
    """
    root = Path(paths["experiments_root"])
    if root.exists() and not resuming:
        stamp = time.strftime("%Y%m%d_%H%M%S")
        target, n = root.with_name(f"{root.name}_archived_{stamp}"), 1
        while target.exists():  # two archives within one second
            target, n = root.with_name(f"{root.name}_archived_{stamp}_{n}"), n + 1
        root.rename(target)
    else:
        target = None
    for key in RUN_KEYS:
        if paths.get(key):
            Path(paths[key]).mkdir(parents=True, exist_ok=True)
    return target

"""A running training owns its run folder: ``experiments/.<name>.lock`` (beside the folder, so archiving the
folder leaves it in place) holds the owner's PID, host and start time while it runs.

A second start with the same name refuses in one line naming the owner; a lock whose process is gone (same
host, PID no longer alive: a killed run) is taken over. Creating the file with O_EXCL makes two runs started
together agree on one owner.
"""
import json
import os
import socket
import time
from pathlib import Path

from srgan_kit.errors import UserError


class RunInUse(UserError):
    """Another live training owns this run folder."""

    exit_code = 75  # EX_TEMPFAIL: try again when the other run has finished


def lock_path(run_dir):
    run_dir = Path(run_dir)
    return run_dir.with_name(f".{run_dir.name}.lock")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _owner(path):
    """The lock's record, or None when the file is gone or unreadable (being written, or damaged)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _stale(record):
    return record is not None and record.get("host") == socket.gethostname() and not _alive(int(record["pid"]))


def check_free(run_dir):
    """RunInUse when a live process owns ``run_dir``; touches nothing (runs before anything is built)."""
    path = lock_path(run_dir)
    record = _owner(path) if path.exists() else None
    if path.exists() and not _stale(record):
        raise _in_use(run_dir, path, record)


def _in_use(run_dir, path, record):
    if record is None:
        return RunInUse(f"{run_dir} is in use by another training (lock {path}); if no run is using it, remove "
                        "that file")
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
    return RunInUse(f"{run_dir} is in use by a running training (PID {record['pid']} on {record['host']}, started "
                    f"{started}); wait for it to finish or choose another name (if that process is gone, remove "
                    f"{path})")


def acquire(run_dir):
    """Take the lock of ``run_dir`` for this process (a stale one is taken over); returns its path."""
    path = lock_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            if not _stale(owner):
                raise _in_use(run_dir, path, owner) from None
            path.unlink(missing_ok=True)  # a killed run's: take it over
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return path
    raise _in_use(run_dir, path, _owner(path))


def release(path):
    """Remove the lock if this process still owns it."""
    record = _owner(Path(path))
    if record is not None and record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
        Path(path).unlink(missing_ok=True)

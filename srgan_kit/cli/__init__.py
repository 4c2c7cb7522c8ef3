"""Command-line entry points: each module parses its own arguments and calls the package (which never reads
sys.argv); ``tools/*.py`` and the console scripts are thin wrappers over them."""
import argparse
import errno
import math
import shlex
import sys
import tempfile
from pathlib import Path

from srgan_kit.errors import UserError, listing

# File-system failures a user fixes (space, permissions, a read-only mount): one line and EX_IOERR, not a traceback.
_DISK_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT)
EX_IOERR = 74


class CannotWrite(UserError):
    """An output place the file system refuses (a file where a folder must be, no permission, /proc, a read-only
    mount), found before any work."""

    exit_code = EX_IOERR


def guarded(body, on_interrupt="stopped by the user"):
    """Run ``body()`` and return its exit code; a UserError prints one ``error:`` line (never a traceback)
    and returns its exit code, a full or unwritable disk likewise (exit 74); Ctrl-C prints what was kept
    and how to continue (the interrupt's own message, else ``on_interrupt``) and returns 130."""
    try:
        return body()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc} (earlier files were left as they were)", file=sys.stderr)
        return EX_IOERR
    except KeyboardInterrupt as exc:
        print(f"interrupted: {str(exc) or on_interrupt}", file=sys.stderr)
        return 130


def continue_with(body, script, argv):
    """``body`` whose interrupted training says to run ``script argv`` again (a sweep or study resumes its
    interrupted run and keeps finished ones), instead of the training's own command."""

    def run():
        from srgan_kit.errors import TrainingInterrupted

        try:
            return body()
        except TrainingInterrupted as exc:
            raise TrainingInterrupted(exc.saved, f"python {shlex.join([script, *argv])} (finished work is kept, "
                                                 "the interrupted run resumes)") from None

    return run


def comma_list(text):
    """argparse ``type=``: 'a, b,c' -> ['a', 'b', 'c'] (empty items dropped)."""
    return [t.strip() for t in text.split(",") if t.strip()]


def number(kind=float, low=0, low_ok=False, high=None, why=""):
    """argparse ``type=``: a finite ``kind`` (int or float) above ``low`` (or equal to it when ``low_ok``) and at
    most ``high`` (when given; ``why`` says why in the message), checked before any work starts."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
        too_high = high is not None and value > high
        if not math.isfinite(value) or value < low or (value == low and not low_ok) or too_high:
            expected = f"a number {'>=' if low_ok else '>'} {low}" + (f" and <= {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}" + (f" ({why})" if why else ""))
        return value

    return parse


COUNT = number(int, 0, low_ok=True)  # 0, 1, 2, ...
POSITIVE_INT = number(int, 1, low_ok=True)


def writable_folder(path, what="output folder"):
    """The folder ``path``, made (parents too) and proven writable with a temporary file before any work;
    CannotWrite (exit 74) naming it otherwise."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise CannotWrite(f"{what} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CannotWrite(f"{what} {folder} cannot be written ({exc.strerror or exc})") from None
    return folder


def writable_file(path, what):
    """``path`` as the name of a file to write: not a folder, and its folder made and proven writable
    (writable_folder) before any work. ``what`` names the option, e.g. '-o'."""
    path = Path(path)
    if path.is_dir():
        raise CannotWrite(f"{what} {path}: is a folder (give a file name)")
    writable_folder(path.parent, f"{what} {path}: folder")
    return path


def note_skipped_files(folder, what):
    """Print one ``note:`` line (stderr) naming the files in ``folder`` that are passed over for not being images
    (list_images reads images only); nothing when there are none."""
    from srgan_kit.data.imageio import non_image_files

    skipped = non_image_files(folder)
    if skipped:
        kinds = ", ".join(sorted({p.suffix.lower() or "no extension" for p in skipped}))
        print(f"note: {what} {folder}: skipped {len(skipped)} file(s) that are not images ({kinds}): "
              f"{listing([p.name for p in skipped], sep=', ')}", file=sys.stderr)
    return skipped

"""User-facing errors (the CLIs print them as one line and exit, never as a traceback), and the one helper
that suggests the nearest valid name in them."""
import difflib


class UserError(Exception):
    """Something the user can fix (a file, a key, a folder). The message names it."""

    exit_code = 2


class OptionError(UserError):
    """A bad option file or --set override."""


class ArgumentError(OptionError):
    """A bad constructor argument of a registered class. It names the argument only; whoever builds the
    class from an option file (``Registry.build(where=...)``) prefixes the key path of that section."""

    def __init__(self, argument, message):
        self.argument, self.message = argument, message
        super().__init__(f"{argument}: {message}")


class TrainingDiverged(UserError):
    """Losses or gradients stayed non-finite for train.nan_tolerance iterations in a row."""

    exit_code = 3


class ProcessLost(UserError):
    """Another process of a torchrun run died or stopped answering: this one cannot go on either."""

    exit_code = 75  # EX_TEMPFAIL: run it again (--auto_resume)


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT / SIGTERM during training: the iteration finished and a complete state was saved. ``saved`` says
    what was kept, ``command`` how to continue (a sweep puts its own command there)."""

    def __init__(self, saved, command):
        super().__init__(saved, command)
        self.saved, self.command = saved, command

    def __str__(self):
        return f"{self.saved}; continue with {self.command}"


class RunFolderLost(UserError):
    """The run folder disappeared while the run was writing to it."""

    exit_code = 74  # EX_IOERR


class DataError(UserError):
    """A missing folder, an unreadable image, a size that does not agree with the scale."""


class WeightsError(UserError):
    """A weights file that cannot be read or does not fit the network."""


class NotSuperResolution(WeightsError):
    """A model file of a known architecture that is not a single-image SR network srgan_kit runs."""


def listing(items, shown=5, sep="; "):
    """The first ``shown`` items, then '... and N more': a message names a few offenders, not thousands."""
    items = [str(i) for i in items]
    more = len(items) - shown
    return sep.join(items[:shown]) + (f"{sep}... and {more} more" if more > 0 else "")


def closest(name, candidates):
    """The candidate nearest to ``name`` (case slips such as Gt_Size count), or None."""
    names = [str(c) for c in candidates]
    found = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    if not found:
        lowered = {n.lower(): n for n in names}
        found = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)]
    return found[0] if found else None


def did_you_mean(name, candidates):
    """' (did you mean 'x'?)' for the nearest candidate, or '' when none is near."""
    hint = closest(name, candidates)
    return f" (did you mean {hint!r}?)" if hint is not None else ""

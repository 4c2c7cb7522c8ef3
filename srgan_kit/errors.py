"""User-facing errors: the CLIs print these as one line and exit, never as a traceback."""


class UserError(Exception):
    """Something the user can fix (a file, a key, a folder). The message names it."""

    exit_code = 2


class OptionError(UserError):
    """A bad option file or --set override."""


class DataError(UserError):
    """A missing folder, an unreadable image, a size that does not agree with the scale."""


class WeightsError(UserError):
    """A weights file that cannot be read or does not fit the network."""

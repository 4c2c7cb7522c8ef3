"""Command-line entry points: each module parses its own arguments and calls the package (which never reads
sys.argv); ``tools/*.py`` and the console scripts are thin wrappers over them."""
import sys

from srgan_kit.errors import UserError


def guarded(body, on_interrupt="stopped by the user"):
    """Run ``body()`` and return its exit code; a UserError prints one ``error:`` line (never a traceback)
    and returns its exit code; Ctrl-C prints ``on_interrupt`` (how to continue) and returns 130."""
    try:
        return body()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"interrupted: {on_interrupt}", file=sys.stderr)
        return 130

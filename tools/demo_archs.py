"""Thin wrapper: see srgan_kit/cli/demo_archs.py."""
from srgan_kit.cli.demo_archs import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Thin wrapper: see srgan_kit/cli/demo.py."""
from srgan_kit.cli.demo import main

if __name__ == "__main__":
    raise SystemExit(main())

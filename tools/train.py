"""Train a model: see ``python tools/train.py -h`` (same as the ``srgan-kit-train`` command)."""
from srgan_kit.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())

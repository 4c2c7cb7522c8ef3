"""Upscale an image or a folder: see ``python tools/infer.py -h`` (same as the ``srgan-kit-infer`` command)."""
from srgan_kit.cli.infer import main

if __name__ == "__main__":
    raise SystemExit(main())

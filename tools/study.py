"""A loss-weighting study in one command: see ``python tools/study.py -h`` (same as ``srgan-kit-study``)."""
from srgan_kit.cli.study import main

if __name__ == "__main__":
    raise SystemExit(main())

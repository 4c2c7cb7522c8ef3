"""Lay out benchmark / training sets: see ``python tools/prepare_datasets.py -h`` (= ``srgan-kit-prepare-datasets``)."""
from srgan_kit.cli.prepare_datasets import main

if __name__ == "__main__":
    raise SystemExit(main())

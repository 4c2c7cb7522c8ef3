"""Loss-weighting sweeps: see ``python tools/sweep.py -h`` (same as ``srgan-kit-sweep``)."""
from srgan_kit.cli.sweep import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Loss-weighting sweeps: see ``python tools/benchmark_losses.py -h`` (same as ``srgan-kit-benchmark-losses``)."""
from srgan_kit.cli.benchmark_losses import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Export a generator to ONNX and check it: see ``python tools/export.py -h`` (same as ``srgan-kit-export``)."""
from srgan_kit.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())

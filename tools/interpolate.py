"""Interpolate two generators (ESRGAN's network interpolation): see ``python tools/interpolate.py -h``."""
from srgan_kit.cli.interpolate import main

if __name__ == "__main__":
    raise SystemExit(main())

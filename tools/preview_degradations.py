"""Preview a degradation option file: see ``python tools/preview_degradations.py -h``."""
from srgan_kit.cli.preview_degradations import main

if __name__ == "__main__":
    raise SystemExit(main())

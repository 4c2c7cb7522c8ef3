"""Score SR images, a model or bicubic on benchmark sets: see ``python tools/evaluate.py -h`` (= ``srgan-kit-evaluate``)."""
from srgan_kit.cli.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Write a folder of images into an LMDB: see ``python tools/create_lmdb.py -h`` (same as ``srgan-kit-create-lmdb``)."""
from srgan_kit.cli.create_lmdb import main

if __name__ == "__main__":
    raise SystemExit(main())

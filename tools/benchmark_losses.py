"""The sweep tool's earlier name, kept so existing commands keep working: see tools/sweep.py."""
from srgan_kit.cli.sweep import main

if __name__ == "__main__":
    raise SystemExit(main())

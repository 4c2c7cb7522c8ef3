"""Soak test of resuming: train once straight through, then again while being killed with SIGKILL at random
moments (also mid-checkpoint) and resumed with --auto_resume each time; both must end with bit-identical
weights (params and params_ema) and no stray temporary files. Minutes to hours; not part of `make test`.

    make demo   # the PSNR checkpoint the GAN stage starts from
    .venv/bin/python benchmarks/soak_kill9.py [-opt options/demo_gan.yml] [--iters 2000] [--every 50] \\
        [--kill-after 60]

Run it where `make demo` ran (the option file's data paths and experiments/ are relative to it); the runs are
experiments/soak_straight and experiments/soak_killed.

Exit status 0 when the two runs agree, 1 otherwise.
"""
import argparse
import random
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def train_command(args, name):
    return [sys.executable, str(REPO / "tools" / "train.py"), "-opt", str(Path(args.opt).resolve()), "--no-progress",
            "--auto_resume", "--set", f"name={name}", "--set", f"train.total_iter={args.iters}",
            "--set", f"logger.save_checkpoint_freq={args.every}", "--set", "val.val_freq=1000000000",
            "--set", f"path.pretrain_network_g={Path(args.start).resolve()}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-opt", default=str(REPO / "options" / "demo_gan.yml"))
    parser.add_argument("--start", default="experiments/demo_msrresnet_x4_psnr/models/net_g_latest.pth",
                        help="generator the GAN stage starts from (default: what `make demo` trained)")
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--every", type=int, default=50, help="checkpoint every N iterations")
    parser.add_argument("--kill-after", type=float, default=60, help="mean seconds between kills")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path.cwd()
    rng = random.Random(args.seed)

    print("straight run ...", flush=True)
    subprocess.run(train_command(args, "soak_straight"), cwd=out, check=True, stdout=subprocess.DEVNULL)
    kills = 0
    while True:
        proc = subprocess.Popen(train_command(args, "soak_killed"), cwd=out, stdout=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=rng.uniform(0.5, 1.5) * args.kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
            print(f"killed (SIGKILL) {kills} time(s)", flush=True)
            continue
        if code != 0:
            print(f"the resumed run failed with exit status {code}")
            return 1
        break
    runs = out / "experiments"
    same = True
    for key in ("params", "params_ema"):
        a = torch.load(runs / "soak_straight" / "models" / f"net_g_{args.iters}.pth", weights_only=True).get(key)
        b = torch.load(runs / "soak_killed" / "models" / f"net_g_{args.iters}.pth", weights_only=True).get(key)
        if a is not None or b is not None:
            same &= a is not None and b is not None and all(torch.equal(a[k], b[k]) for k in a)
    stray = sorted(str(p) for p in (runs / "soak_killed").rglob("*.tmp"))
    print(f"{kills} kills; final weights {'bit-identical' if same else 'DIFFER'}; stray temporary files: "
          f"{stray or 'none'}")
    return 0 if same and not stray else 1


if __name__ == "__main__":
    raise SystemExit(main())

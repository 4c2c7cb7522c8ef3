"""The CUDA paths checked in one command (``make gpu-check``): the tests marked ``cuda`` (fp16 resume with its
scaler, bf16 against fp32, compile, half-precision inference, two NCCL processes when two GPUs are present), then
the training-step and inference benchmarks on the GPU. One summary line per check; about 5 minutes on one GPU,
each part bounded so the whole stays under 8. Without a CUDA device it says so in one line and exits 0.

    .venv/bin/python benchmarks/gpu_check.py [--json results/gpu_check.json]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
# (name, command, seconds allowed): the benchmarks at sizes that fit the 8-minute budget with the tests.
BENCHMARKS = [
    ("benchmark: training step (ESRGAN, SRGAN, PSNR) on cuda",
     [sys.executable, "benchmarks/train_step.py", "--device", "cuda", "--steps", "3", "--blocks", "23",
      "--batch", "16", "--gt", "128"], 150),
    ("benchmark: inference (RealESRGAN_x4plus) on cuda",
     [sys.executable, "benchmarks/infer.py", "--device", "cuda", "--size", "256", "--tile", "128"], 120),
]
TEST_SECONDS = 180


class Collector:
    """A pytest plugin keeping each test's outcome and duration."""

    def __init__(self):
        self.results = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            reason = ""
            if report.skipped and isinstance(report.longrepr, tuple):
                reason = report.longrepr[2]
            elif report.failed:
                reason = str(report.longrepr).strip().splitlines()[-1][:160]
            self.results.append((report.nodeid.split("::")[-1], report.outcome, report.duration, reason))


def run_tests():
    import pytest

    collector = Collector()
    pytest.main(["-q", "-m", "cuda", "-p", "no:cacheprovider", str(REPO / "tests" / "test_cuda.py"),
                 str(REPO / "tests" / "test_loader.py")], plugins=[collector])
    return [{"check": name, "outcome": outcome, "seconds": round(seconds, 1), "detail": detail}
            for name, outcome, seconds, detail in collector.results]


def run_benchmark(name, command, seconds):
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return {"check": name, "outcome": "failed", "seconds": seconds, "detail": f"over {seconds} s"}
    lines = (done.stdout + done.stderr).strip().splitlines()
    return {"check": name, "outcome": "passed" if done.returncode == 0 else "failed",
            "seconds": round(time.perf_counter() - start, 1), "detail": lines[-1][:160] if lines else "",
            "output": done.stdout}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write every check's outcome (and the benchmarks' tables) here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device on this machine; nothing to check (the CPU suite is make test)")
        return 0
    print(f"gpu-check on {torch.cuda.get_device_name()} x{torch.cuda.device_count()}, torch {torch.__version__}")
    results = run_tests() + [run_benchmark(*b) for b in BENCHMARKS]
    for r in results:
        detail = f": {r['detail']}" if r["detail"] and r["outcome"] != "passed" else ""
        print(f"gpu-check: {r['check']}: {r['outcome']} ({r['seconds']} s){detail}")
    for r in results:
        if r.get("output"):
            print(f"\n{r['check']}\n{r['output']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any(r["outcome"] == "failed" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

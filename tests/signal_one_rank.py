"""Run by tests/test_distributed.py under torchrun: rank 1 alone gets a signal at iteration 3 — SIGKILL (as the
OOM killer would) or, with ONE_RANK_SIGNAL=SIGINT, an interrupt (a scheduler or a user signalling one process);
everything else is tools/train.py."""
import os
import signal
import sys

from srgan_kit.cli.train import main
from srgan_kit.models.base import GeneratorStep

_run = GeneratorStep.run
SIGNAL = signal.Signals[os.environ.get("ONE_RANK_SIGNAL", "SIGKILL")]


def run(self, batch, iteration):
    if iteration == 3 and os.environ.get("RANK") == "1":
        os.kill(os.getpid(), SIGNAL)
    return _run(self, batch, iteration)


GeneratorStep.run = run
sys.exit(main(sys.argv[1:]))

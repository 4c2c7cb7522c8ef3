"""Run by tests/test_distributed.py under torchrun: only rank 1 gets SIGINT, at iteration 3 (a scheduler or a user
signalling one process); everything else is tools/train.py."""
import os
import signal
import sys

from srgan_kit.cli.train import main
from srgan_kit.models.base import GeneratorStep

_run = GeneratorStep.run


def run(self, batch, iteration):
    if iteration == 3 and os.environ.get("RANK") == "1":
        os.kill(os.getpid(), signal.SIGINT)
    return _run(self, batch, iteration)


GeneratorStep.run = run
sys.exit(main(sys.argv[1:]))

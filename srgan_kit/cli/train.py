"""``srgan-kit-train`` / ``tools/train.py``: train a super-resolution model from a YAML option file.

Outputs go to experiments/<name>/ (models/, training_states/, visualization/, the log and the resolved
options). --auto_resume continues from the newest complete training state of that folder, if any.
Problems with the option file, data or weights print one ``error:`` line and exit 2. --print-schema writes
the option file's JSON Schema (what editors complete and check options/*.yml with) and exits.
"""
import argparse
import os
import sys

from srgan_kit.cli import guarded
from srgan_kit.errors import ProcessLost, TrainingInterrupted, UserError


def build_parser():
    p = argparse.ArgumentParser(prog="srgan-kit-train", description="Train a super-resolution model.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("-opt", "--opt", dest="opt", help="YAML option file (BasicSR's layout)")
    what.add_argument("--print-schema", dest="print_schema", action="store_true",
                      help="print the option file's JSON Schema (options/schema.json, `make schema`) and exit")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an option, e.g. --set train.total_iter=1000 (repeatable)")
    p.add_argument("--auto_resume", "--auto-resume", dest="auto_resume", action="store_true",
                   help="resume from the latest training state of this experiment, if there is one")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    # Several processes come from torchrun (see srgan_kit.distributed); BasicSR's flags are accepted.
    p.add_argument("--launcher", choices=("none", "pytorch"), default="none",
                   help="accepted for BasicSR compatibility: torchrun's environment decides")
    p.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None,
                   help="passed by older launchers; LOCAL_RANK in the environment is used")
    return p


def run(args):
    from srgan_kit.config.options import load_options
    from srgan_kit import distributed
    from srgan_kit.training.trainer import train

    if args.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    rank, world, _local = distributed.join()
    try:
        opt = load_options(args.opt, overrides=args.overrides, is_train=True)
        opt["manual_seed"] = distributed.same_everywhere(opt["manual_seed"])  # drawn when the file has none
        result = train(opt, auto_resume=args.auto_resume, progress=args.progress and rank == 0)
        distributed.leave(finished=True)
    except UserError as exc:  # torchrun ends the other processes; the line says which one failed
        if world > 1:
            exc.args = (f"rank {rank} of {world}: {exc}",)
        raise
    except TrainingInterrupted as exc:  # every process saved at the same iteration
        if world == 1:
            raise
        distributed.leave(finished=True)
        if rank == 0:  # one line for the run, not one per process
            print(f"interrupted: {exc}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except RuntimeError as exc:  # a collective whose peer is gone (killed, crashed, out of memory)
        if world == 1:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ProcessLost(f"rank {rank} of {world}: another process stopped ({first}); torchrun names it "
                          "above; continue with --auto_resume from the last complete state") from None
    finally:
        distributed.leave()
    if rank == 0:
        print(f"Finished at iteration {result.iteration}; generator: {result.checkpoint}")
    if world > 1:
        # Everything is written (checkpoints fsynced, logs closed) and the group is left; skipping the
        # interpreter's teardown avoids an occasional abort there in a CPU (gloo) process, which torchrun would
        # report as a failed run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def print_schema():
    from srgan_kit.config.schema import option_json_schema_text

    sys.stdout.write(option_json_schema_text())
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.print_schema:
        return print_schema()
    return guarded(lambda: run(args), "run again with --auto_resume to continue from the last saved state")

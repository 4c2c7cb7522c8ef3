"""Several processes, one run: PyTorch's own torchrun + DistributedDataParallel (NCCL on GPUs, gloo on CPUs).

    torchrun --nproc_per_node N tools/train.py -opt FILE [--auto_resume]

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous in the environment; ``join`` reads them, joins
the process group, gives each process its own GPU (LOCAL_RANK) or its share of the CPU threads. Without
torchrun it does nothing and the run is a single process. Options follow BasicSR: ``batch_size_per_gpu`` is per
process, so the global batch is that times the number of processes.
"""
import datetime
import os

import torch
import torch.distributed as dist

TIMEOUT = datetime.timedelta(minutes=10)  # a collective waiting longer than this ends the run (a lost rank)


def world():
    """(rank, world size) of this process: (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def join():
    """Join torchrun's process group when launched by it; returns (rank, world size, local rank)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if size <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(local)
        else:  # processes on one machine share its cores instead of each spinning up all of them
            per_node = int(os.environ.get("LOCAL_WORLD_SIZE", size))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // per_node))
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT)
    return dist.get_rank(), dist.get_world_size(), local


def leave(finished=False):
    """Leave the process group. ``finished``: every process got to the end, so they first wait for each other:
    a process that tore its group down while another still worked (rank 0 hosts the rendezvous store) could
    abort at exit."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def same_everywhere(value):
    """Rank 0's ``value`` on every process (a seed drawn by one, for example)."""
    if world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gathered(value):
    """[value of rank 0, value of rank 1, ...] on every process."""
    if world()[1] == 1:
        return [value]
    out = [None] * world()[1]
    dist.all_gather_object(out, value)
    return out


def gathered_tensors(tensor):
    """[rank 0's ``tensor``, rank 1's, ...] on every process (the same shape in each), on ``tensor``'s device."""
    if world()[1] == 1:
        return [tensor]
    sent = tensor.to(_collective_device()).contiguous()
    parts = [torch.empty_like(sent) for _ in range(world()[1])]
    dist.all_gather(parts, sent)
    return [part.to(tensor.device) for part in parts]


def _collective_device():
    """Where small tensors for a collective live: NCCL reduces only CUDA tensors."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def largest(number):
    """The largest of every process's integer ``number``, on every process (one stop signal stops them all at
    the same iteration)."""
    if world()[1] == 1:
        return number
    value = torch.tensor([number], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return int(value.item())


def launch_command(script_and_args):
    """How to start ``script_and_args`` the way this process was started: under torchrun with its process
    counts, else with python."""
    size, local = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if size <= 1:
        return f"python {script_and_args}"
    nodes = f" --nnodes {size // local}" if size > local else ""
    return f"torchrun{nodes} --nproc_per_node {local} {script_and_args}"


def averaged(numbers):
    """{name: float} averaged over the processes (each logged its own part of the batch): the global batch's."""
    if world()[1] == 1 or not numbers:
        return numbers
    values = torch.tensor(list(numbers.values()), dtype=torch.float64, device=_collective_device())
    dist.all_reduce(values)
    return dict(zip(numbers, (values / world()[1]).tolist()))


def global_mean(x):
    """The mean of ``x`` over the global batch (every process's part of it), differentiable: under DDP a
    batch-wide statistic (RaGAN's mean logit) is the one a single process with the whole batch computes."""
    if world()[1] == 1:
        return x.mean()
    from torch.distributed.nn.functional import all_reduce

    count = torch.tensor(float(x.numel()), device=x.device)
    dist.all_reduce(count)
    return all_reduce(x.sum()) / count


def wrap(net, device):
    """``net`` in DistributedDataParallel when there are several processes (its weights and buffers are
    rank 0's from here on), else ``net``."""
    if world()[1] == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

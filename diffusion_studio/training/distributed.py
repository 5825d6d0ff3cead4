"""Data-parallel training under ``torchrun`` (PyTorch DistributedDataParallel): gloo on the CPU, NCCL on GPUs.

``diffusion-studio train`` runs unchanged under ``torchrun --nproc_per_node N``: torchrun sets RANK, WORLD_SIZE
and LOCAL_RANK, and :func:`setup` joins the process group. The design keeps a run exactly the one-process run:

- every process seeds the same generator and draws the whole global batch's indices, flips, t, eps and label
  dropout from it (cheap), then runs the network on its own share ``keep`` (rank r: rows r*b .. (r+1)*b - 1);
- DDP averages the gradients, so the update is the gradient of the mean loss over the global batch, as with one
  process; the generator states stay identical on every process, so rank 0's checkpoint resumes all of them;
- rank 0 alone writes checkpoints, sample sheets and the model folder, and prints progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from diffusion_studio.errors import OptionError


@dataclass(frozen=True)
class Dist:
    """This process's place in the group; ``world`` 1 means no group (a plain one-process run)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, batch: int) -> slice:
        """The rows of a global batch that this process trains on."""
        if batch % self.world:
            raise OptionError(
                f"--batch {batch} does not split evenly over {self.world} processes; use a multiple of {self.world}."
            )
        size = batch // self.world
        return slice(self.rank * size, (self.rank + 1) * size)


def from_env() -> Dist:
    """RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them; a single process without them."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise OptionError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them).") from None
    if world < 1 or not 0 <= rank < world:
        raise OptionError(f"RANK {rank} does not fit WORLD_SIZE {world}.")
    return Dist(rank, world, local)


def is_main_process() -> bool:
    """True in a one-process run and on rank 0 of a group: the process that writes files and prints."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return from_env().main


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group when torchrun started us (gloo on the CPU, NCCL on CUDA); this process's device."""
    dist = from_env()
    if dist.world == 1:
        return dist, device
    if device.type == "cuda":  # one GPU per process; untested here (this machine has no GPU)
        torch.cuda.set_device(dist.local_rank)
        device = torch.device("cuda", dist.local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist, device


def wrap(net: torch.nn.Module, dist: Dist, device: torch.device) -> torch.nn.Module:
    """The module the loss calls: DDP around ``net`` in a group (gradients averaged in backward), else ``net``."""
    if dist.world == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)


def mean_over_processes(values: torch.Tensor, dist: Dist) -> torch.Tensor:
    """The average of ``values`` over the group (the loss of the whole global batch); unchanged alone."""
    if dist.world == 1:
        return values
    values = values.clone()
    torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.SUM)
    return values / dist.world


def teardown(dist: Dist) -> None:
    """Leave the process group (also after Ctrl+C or an error, so no process waits on a dead peer)."""
    if dist.world > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()

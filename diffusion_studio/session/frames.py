"""The one stream from sampler steps to recorded frames, shared by the CLI and the window (no Qt).

Every :class:`~diffusion_studio.core.samplers.Step` of :func:`~diffusion_studio.core.plan.run_plan` becomes one
:class:`StepFrames` holding the step's own tensors: x_t, the predicted x0 and the predicted eps. The sampler made
them anyway and never changes them after the ``yield`` (x_t of a step is x_{t-1} of the one before), so recording a
step on the CPU costs no copy and no conversion. Pictures (contiguous (H, W, C) uint8, a batch tiled like the CLI
does) are made when asked for, so only what is painted or exported is ever converted; a frame can also be compacted
to its pictures (a quarter of float32) when memory is short. After the last step one more frame (t = -1) holds the
finished image. A CUDA out-of-memory error restarts the run on the CPU (same seed, so the same picture) and says
so with a :class:`Notice`: the CLI and the window both read this stream, so both have the fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import run_plan
from diffusion_studio.errors import ModelError
from diffusion_studio.io.frames import EPS_RANGE, PANELS, tile, to_uint8_batch
from diffusion_studio.session.devices import describe_device
from diffusion_studio.session.request import PreparedRun

FINAL_T = -1  # timeline position of the finished image (abar_{-1} = 1: the clean end of the process)
__all__ = ["FINAL_T", "Notice", "StepFrames", "count_frames", "describe_device", "frame_bytes", "raw_frame_bytes",
           "stream_frames", "to_uint8_image"]
PANE_RANGES = ((-1.0, 1.0), (-1.0, 1.0), (-EPS_RANGE, EPS_RANGE))  # x_t, x0, eps: the values 0 and 255 stand for
Pane = torch.Tensor | np.ndarray


def to_uint8_image(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(B, C, H, W) values in [lo, hi] -> one (H, W, C) uint8 image; batches are tiled like the CLI does."""
    images = to_uint8_batch(x, lo, hi)
    return images[0] if images.shape[0] == 1 else tile(images)


def _on_cpu(x: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy of a device tensor (a GPU run's step), detached from autograd."""
    return x.detach().to("cpu", torch.float32)


def _own(x: torch.Tensor) -> torch.Tensor:
    """The tensor itself when it owns its memory; a copy when it is a view into something larger (held whole)."""
    if x.requires_grad:
        x = x.detach()
    if x.untyped_storage().nbytes() > x.numel() * x.element_size():
        x = x.clone()
    return x


class StepFrames:
    """One recorded step. ``index`` runs 0..steps; index == steps is the finished image (t = -1).

    Each pane (x_t, x0, eps, in :data:`~diffusion_studio.io.frames.PANELS` order) is either the step's tensor
    (B, C, H, W) or its uint8 picture; ``x_t``, ``x0`` and ``eps`` always give the picture, converting a tensor on
    each access (a frame holds no second copy). ``pred_abar`` is the noise level abar the x0/eps predictions were
    made at (the sigma-grid samplers' exact one; for the finished image, its last step's), from which v-hat and the
    flow velocity are derived when shown (:mod:`diffusion_studio.session.third_pane`). Treat a frame as immutable.
    """

    __slots__ = ("index", "steps", "t", "t_prev", "pred_abar", "_panes", "__weakref__")

    def __init__(self, index: int, steps: int, t: int, t_prev: int, x_t: Pane, x0: Pane, eps: Pane,
                 pred_abar: float | None = None) -> None:
        self.index, self.steps, self.t, self.t_prev = index, steps, t, t_prev
        self.pred_abar = pred_abar  # abar at which x0/eps were predicted (the finished image: its last step's)
        self._panes: tuple[Pane, Pane, Pane] = (x_t, x0, eps)

    def __repr__(self) -> str:
        kind = "tensors" if self.is_raw else "pictures"
        return f"StepFrames(index={self.index}, steps={self.steps}, t={self.t}, {kind})"

    @property
    def is_final(self) -> bool:
        return self.t == FINAL_T

    @property
    def is_raw(self) -> bool:
        """True while any pane is still a tensor (pictures are made on access)."""
        return any(isinstance(p, torch.Tensor) for p in self._panes)

    def picture(self, pane: int) -> np.ndarray:
        """Pane ``pane`` (0 x_t, 1 x0, 2 eps) as a contiguous (H, W, C) uint8 picture."""
        p = self._panes[pane]
        if isinstance(p, np.ndarray):
            return p
        lo, hi = PANE_RANGES[pane]
        return to_uint8_image(p, lo, hi)

    def pictures(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All three pictures; a tensor shared by two panes (the finished image) is converted once."""
        out: list[np.ndarray] = []
        for i, p in enumerate(self._panes):
            same = next((j for j in range(i) if self._panes[j] is p and PANE_RANGES[j] == PANE_RANGES[i]), None)
            out.append(out[same] if same is not None else self.picture(i))
        return out[0], out[1], out[2]

    def tensor(self, pane: int) -> torch.Tensor | None:
        """The pane's values as the sampler made them (B, C, H, W), or None once the frame was compacted."""
        p = self._panes[pane]
        return p if isinstance(p, torch.Tensor) else None

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The three panes as tensors, or None unless every pane is one."""
        p = self._panes
        if isinstance(p[0], torch.Tensor) and isinstance(p[1], torch.Tensor) and isinstance(p[2], torch.Tensor):
            return p  # type: ignore[return-value]
        return None

    @property
    def x_t(self) -> np.ndarray:
        return self.picture(0)

    @property
    def x0(self) -> np.ndarray:
        return self.picture(1)

    @property
    def eps(self) -> np.ndarray:
        return self.picture(2)

    def compact(self) -> StepFrames:
        """The same frame holding uint8 pictures only (itself when it holds no tensor)."""
        if not self.is_raw:
            return self
        return StepFrames(self.index, self.steps, self.t, self.t_prev, *self.pictures(), self.pred_abar)

    @property
    def nbytes(self) -> int:
        """Bytes this frame holds (a pane shared by two panes counted once)."""
        seen: dict[int, int] = {}
        for p in self._panes:
            seen[id(p)] = p.nbytes if isinstance(p, np.ndarray) else p.numel() * p.element_size()
        return sum(seen.values())


@dataclass(frozen=True)
class Notice:
    """Something the person should know; ``restart`` means the frames so far are void (the run began again)."""

    text: str
    restart: bool = False
    device: str = ""


def frame_bytes(shape: tuple[int, int, int]) -> int:
    """Bytes of one compacted :class:`StepFrames` for images of ``shape`` (C, H, W): three uint8 panes."""
    c, h, w = shape
    return len(PANELS) * c * h * w


def raw_frame_bytes(shape: tuple[int, int, int], batch: int = 1, element_size: int = 4) -> int:
    """Bytes one recorded step holds as tensors: x_t (x_{t-1} of the step before), x0 and eps, float32."""
    c, h, w = shape
    return len(PANELS) * batch * c * h * w * element_size


def count_frames(prepared: PreparedRun) -> int:
    """How many frames a run streams: one per step plus the finished image."""
    return len(prepared.plan.timesteps(prepared.schedule)) + 1


def stream_frames(prepared: PreparedRun, cancel: CancelToken | None = None) -> Iterator[StepFrames | Notice]:
    """Run the prepared plan, yielding every step as a frame; fall back to the CPU once if CUDA runs out of memory.

    Frames from a CPU run hold the step's tensors (no conversion here). A GPU run's tensors are copied to the CPU
    as float32 at each step, so device memory is not held, nobody else has to synchronise with the device, and the
    frames are like a CPU run's: exact v-hat and flow panes and raw values in the readout (the frame store compacts
    them to pictures when memory is short, as for a CPU run).
    """
    device = prepared.device
    while True:
        try:
            yield from _frames(prepared, device, cancel)
            return
        except torch.cuda.OutOfMemoryError as err:
            if device.type == "cpu":
                raise ModelError("The computer ran out of memory during sampling; try a smaller image.") from err
            prepared.model.to("cpu")
            classifier = prepared.plan.guidance.classifier
            if classifier is not None:  # classifier guidance: its gradient must be taken where x_t now lives
                classifier.to("cpu")
            torch.cuda.empty_cache()
            device = torch.device("cpu")
            yield Notice("The GPU ran out of memory, so the run started again on the CPU (same seed).",
                         restart=True, device=describe_device(device))


def _frames(prepared: PreparedRun, device: torch.device, cancel: CancelToken | None) -> Iterator[StepFrames]:
    steps = run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape, prepared.init, device, cancel)
    keep = _own if torch.device(device).type == "cpu" else _on_cpu
    previous: tuple[torch.Tensor, torch.Tensor] | None = None  # the last step's x_prev, as made and as held
    for step in steps:
        reuse = previous is not None and previous[0] is step.x_t
        x_t = previous[1] if reuse else keep(step.x_t)
        x0, eps, x_prev = keep(step.x0_pred), keep(step.eps_pred), keep(step.x_prev)
        abar = step.abar(prepared.schedule)  # a float per frame: the v and flow panes are derived when painted
        frame = StepFrames(step.index, step.total, step.t, step.t_prev, x_t, x0, eps, abar)
        yield frame
        if step.t_prev < 0:
            final = StepFrames(step.total, step.total, FINAL_T, FINAL_T, x_prev, x_prev, eps, abar)
            yield final
        previous = (step.x_prev, x_prev)

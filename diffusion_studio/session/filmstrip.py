"""The x0 filmstrip: the predicted x0 at chosen steps in one strip (DDPM paper, Fig. 6), with the decision step.

The decision step is the first step whose x0-hat is within ``tolerance`` of the finished picture (root mean
square difference in [-1, 1] units): from there on the sampler only refines what it has already chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffusion_studio.errors import OptionError
from diffusion_studio.io.gif import export_contact_sheet, select_indices
from diffusion_studio.session.run import RecordedStep, Run

DEFAULT_TOLERANCE = 0.1
MARK = (220, 30, 30)  # the decision step's frame colour


def x0_distances(run: Run) -> list[float]:
    """RMS distance of each step's x0-hat from the finished picture, in [-1, 1] units."""
    if run.final is None:
        raise OptionError("The run has not finished, so there is no final picture to measure against.")
    final = run.final.x_t.astype(np.float32)
    return [float(np.sqrt(np.mean(((s.x0.astype(np.float32) - final) / 127.5) ** 2))) for s in run.steps]


def decision_index(run: Run, tolerance: float = DEFAULT_TOLERANCE) -> int:
    """Index of the first step whose x0-hat is within ``tolerance`` of the finished picture, and stays so."""
    if not tolerance > 0:
        raise OptionError(f"The decision tolerance must be above 0, not {tolerance}.")
    distances = x0_distances(run)
    index = len(distances) - 1
    for i in range(len(distances) - 1, -1, -1):  # the earliest step after which every x0-hat is close
        if distances[i] > tolerance:
            break
        index = i
    return index


@dataclass(frozen=True)
class Filmstrip:
    steps: list[RecordedStep]
    decision: RecordedStep
    tolerance: float

    def labels(self) -> list[str]:
        return [f"t = {s.t}" + (" decided" if s is self.decision else "") for s in self.steps]


def filmstrip(run: Run, count: int = 10, tolerance: float = DEFAULT_TOLERANCE) -> Filmstrip:
    """``count`` evenly spaced steps (the first and last included) plus the decision step, in run order."""
    if count < 2:
        raise OptionError(f"A filmstrip needs at least 2 pictures, not {count}.")
    decided = decision_index(run, tolerance)
    picks = set(select_indices(len(run.steps), frame_count=min(count, len(run.steps)))) | {decided}
    return Filmstrip([run.steps[i] for i in sorted(picks)], run.steps[decided], tolerance)


def _framed(picture: np.ndarray, colour: tuple[int, int, int] | None, width: int) -> np.ndarray:
    rgb = np.repeat(picture, 3, axis=2) if picture.shape[2] == 1 else picture
    out = np.empty((rgb.shape[0] + 2 * width, rgb.shape[1] + 2 * width, 3), np.uint8)
    out[:] = colour or (255, 255, 255)
    out[width:-width, width:-width] = rgb
    return out


def strip_pictures(strip: Filmstrip) -> list[np.ndarray]:
    """Each x0-hat with a thin border: coloured for the decision step, white for the others."""
    width = max(1, strip.steps[0].x0.shape[0] // 14)
    return [_framed(s.x0, MARK if s is strip.decision else None, width) for s in strip.steps]


def export_filmstrip(path: str | os.PathLike[str], run: Run, count: int = 10,
                     tolerance: float = DEFAULT_TOLERANCE, scale: int = 1) -> tuple[Path, Filmstrip]:
    """Write the strip as one PNG row (io.gif's contact sheet), labelled by t, the decision step marked."""
    strip = filmstrip(run, count, tolerance)
    pictures = strip_pictures(strip)
    return export_contact_sheet(path, pictures, strip.labels(), columns=len(pictures), scale=scale), strip

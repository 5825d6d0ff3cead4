"""Names of what is on screen, for the maths panel and the export captions: the run's model, class, guidance,
sampler, steps and seed (read from the run and, for class names, from the controls), and the maths state of the
step shown."""

from __future__ import annotations

from typing import NamedTuple

from diffusion_studio.app.controls import ControlsPanel
from diffusion_studio.app.guidance_size import GuidanceSize
from diffusion_studio.app.maths_panel import MathsState
from diffusion_studio.app.run_session import RunInfo
from diffusion_studio.core.schedules import Schedule


class RunNames(NamedTuple):
    """What a caption line says about a run (see :func:`diffusion_studio.app.exporting.run_note`)."""

    model: str
    class_name: str | None
    cfg_scale: float
    classifier_scale: float
    sampler: str
    steps: int
    seed: int
    eta: float


def run_names(info: RunInfo, controls: ControlsPanel) -> RunNames:
    """The run's settings by name (the class by its name where the model on the controls is the run's)."""
    p, g = info.plan, info.plan.guidance
    names = controls.class_names() if info.model == controls.model_info().name else ()
    label = g.label
    name = None if label is None else (names[label] if 0 <= label < len(names) else str(label))
    return RunNames(info.model, name, g.cfg_scale, g.classifier_scale if g.classifier is not None else 0.0,
                    p.sampler, info.steps, p.seed, p.eta)


def run_maths_state(info: RunInfo, controls: ControlsPanel, t: int, sizes: GuidanceSize | None = None,
                    sizes_note: str = "") -> MathsState:
    """The step t -> t_prev of the run on screen, as the sampler takes it (``sizes``: its guidance terms)."""
    p, names = info.plan, run_names(info, controls)
    g = p.guidance
    cfg = g.cfg_scale_at(t) if hasattr(g, "cfg_scale_at") else names.cfg_scale  # a guidance interval, if any
    return MathsState(info.schedule, t, info.t_prevs.get(t, t - 1), p.sampler, p.eta, p.variance, p.clip_x0,
                      reverse=True, class_name=names.class_name, cfg_scale=cfg,
                      classifier_scale=names.classifier_scale, sizes=sizes, sizes_note=sizes_note)


def controls_maths_state(controls: ControlsPanel, schedule: Schedule, t: int, reverse: bool) -> MathsState:
    """The step at t as the controls would sample it (before a run, or in the forward view)."""
    s, c = controls.sampler_settings(), controls
    name = c.class_name() if c.class_combo.isEnabled() else None
    return MathsState(schedule, t, t - 1, s["sampler"], s["eta"], s["variance"], s["clip_x0"], reverse=reverse,
                      class_name=name, cfg_scale=c.guidance.value() if name is not None else 1.0,
                      classifier_scale=c.classifier_scale.value() if c.classifier_scale.isEnabled() else 0.0)

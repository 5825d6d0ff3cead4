"""A complete, frozen description of one sampling run, and the generator that carries it out.

The CLI and the app fill a :class:`SamplingPlan` from their options; :func:`run_plan` seeds a generator, draws the
start (pure noise, or the user's image noised to t0 for SDEdit, Meng et al. 2022) and runs the chosen sampler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.forward import q_sample
from diffusion_studio.core.samplers import Guidance, Step, reverse_process
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.steps import Spacing, Variance, ddim_timesteps
from diffusion_studio.errors import OptionError

SAMPLERS = ("ddpm", "ddim")


@dataclass(frozen=True)
class SamplingPlan:
    sampler: str = "ddpm"  # "ddpm" (ancestral) or "ddim"
    steps: int | None = None  # None: every t for DDPM, 50 for DDIM; fewer DDPM steps are respaced
    eta: float = 0.0  # DDIM only
    spacing: str = Spacing.LEADING.value
    variance: str = Variance.BETA_TILDE.value  # DDPM only: sigma_t^2 = beta_t or beta~_t
    clip_x0: bool = True
    seed: int = 0
    batch: int = 1
    strength: float | None = None  # SDEdit: start from the init image noised to t0 = strength * T
    guidance: Guidance = Guidance()

    def checked(self, sched: Schedule) -> SamplingPlan:
        """Validate against a schedule; raise :class:`OptionError` with one sentence if something is off."""
        if self.sampler not in SAMPLERS:
            raise OptionError(f"Unknown sampler '{self.sampler}'; choose ddpm or ddim.")
        if self.eta < 0 or self.eta > 1:
            raise OptionError(f"eta must be between 0 and 1, got {self.eta:g}.")
        if self.strength is not None and not 0 < self.strength <= 1:
            raise OptionError(f"The SDEdit strength must be above 0 and at most 1, got {self.strength:g}.")
        if self.batch < 1:
            raise OptionError("The batch size must be at least 1.")
        Variance(self.variance)
        Spacing(self.spacing)
        self.timesteps(sched)
        return self

    def timesteps(self, sched: Schedule) -> list[int]:
        """The descending timesteps this plan visits (cut at t0 for an SDEdit start)."""
        steps = (
            self.steps
            if self.steps is not None
            else (sched.T if self.sampler == "ddpm" else min(50, sched.T))
        )
        if self.sampler == "ddpm" and steps == sched.T:
            ts = list(range(sched.T - 1, -1, -1))
        else:
            ts = ddim_timesteps(sched, steps, self.spacing)
        if self.strength is not None:
            t0 = round(self.strength * (sched.T - 1))
            ts = [t for t in ts if t <= t0]
            if not ts:
                raise OptionError(
                    "The SDEdit strength is too low for this number of steps: no step would run."
                )
        return ts

    def with_seed(self, seed: int) -> SamplingPlan:
        return replace(self, seed=seed)


def start_sample(
    plan: SamplingPlan,
    sched: Schedule,
    shape: tuple[int, int, int],
    generator: torch.Generator,
    init: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """x_T ~ N(0, I), or for SDEdit x_{t0} = sqrt(abar_t0) x_init + sqrt(1 - abar_t0) eps (Meng et al. 2022)."""
    full = (plan.batch, *shape)
    noise = torch.randn(full, generator=generator, dtype=torch.float32)
    if plan.strength is None or init is None:
        return noise.to(device)
    x0 = init.to(torch.float32).expand(full).clone()
    t0 = plan.timesteps(sched)[0]
    return q_sample(sched, x0, t0, noise).to(device)


def run_plan(
    model,
    sched: Schedule,
    plan: SamplingPlan,
    shape: tuple[int, int, int],
    init: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    cancel: CancelToken | None = None,
) -> Iterator[Step]:
    """Seed, draw the start and run the plan's sampler, yielding one :class:`Step` per step."""
    plan.checked(sched)
    if plan.strength is not None and init is None:
        raise OptionError("An SDEdit start (strength) needs an init image.")
    generator = torch.Generator("cpu").manual_seed(int(plan.seed))
    x_start = start_sample(plan, sched, shape, generator, init, device)
    return reverse_process(
        model,
        sched,
        x_start,
        plan.timesteps(sched),
        method=plan.sampler,
        eta=plan.eta,
        variance=plan.variance,
        clip_x0=plan.clip_x0,
        guidance=plan.guidance,
        generator=generator,
        cancel=cancel,
    )

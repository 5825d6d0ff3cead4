"""A complete, frozen description of one sampling run, and the generator that carries it out.

The CLI and the app fill a :class:`SamplingPlan` from their options; :func:`run_plan` seeds a generator, draws the
start (pure noise, or the user's image noised to t0 for SDEdit, Meng et al. 2022) and runs the chosen sampler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.forward import q_sample
from diffusion_studio.core.karras import sigma_grid, sigma_sampler
from diffusion_studio.core.samplers import Guidance, Step, reverse_process
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.sigmas import SigmaGrid
from diffusion_studio.core.steps import SamplerName, Spacing, Variance, ddim_timesteps
from diffusion_studio.errors import OptionError

SAMPLERS = tuple(m.value for m in SamplerName)
DEFAULT_STEPS = {SamplerName.DDIM: 50, SamplerName.EULER: 25, SamplerName.HEUN: 25, SamplerName.DPMPP_2M: 25}


@dataclass(frozen=True)
class SamplingPlan:
    sampler: str = SamplerName.DDPM.value  # a SamplerName: ddpm, ddim, euler, heun, dpmpp_2m
    steps: int | None = None  # None: every t for DDPM, 50 for DDIM, 25 for the others; fewer DDPM steps respace
    eta: float = 0.0  # DDIM only
    spacing: str | None = None  # leading, trailing, linspace, karras; None: the sampler's diffusers default
    variance: str = Variance.BETA_TILDE.value  # DDPM only: sigma_t^2 = beta_t or beta~_t
    clip_x0: bool = True  # DDPM and DDIM only (Euler, Heun and DPM-Solver++ never clip, as diffusers' defaults)
    seed: int = 0
    batch: int = 1
    strength: float | None = None  # SDEdit: start from the init image noised to t0 = strength * T
    guidance: Guidance = Guidance()
    churn: float = 0.0  # Heun only: Karras et al. 2022 S_churn (0 = deterministic)
    guidance_interval: tuple[float, float] | None = None  # classifier-free guidance only for lo <= t <= hi
    karras: bool = False  # Euler/Heun/DPM-Solver++: Karras sigmas over the spacing's range (use_karras_sigmas)
    steps_offset: int = 0  # diffusers' steps_offset: added to leading-spaced timesteps
    clip_range: float = 1.0  # DDPM and DDIM clip x0-hat to [-clip_range, clip_range] (clip_sample_range)
    # diffusers' scheduler settings that change a run, as named there (a diffusers folder's config sets them):
    final_sigmas_type: str = "zero"  # Euler, DPM-Solver++: end at sigma 0, or at "sigma_min" (sigma of t = 0)
    lower_order_final: bool = True  # DPM-Solver++: a first-order last step on runs under 15 steps (to sigma_min)
    euler_at_final: bool = False  # DPM-Solver++: always a first-order last step
    set_alpha_to_one: bool = True  # DDIM: the last step lands on abar = 1 (the clean image); False: on abar_0

    @property
    def sampler_name(self) -> SamplerName:
        return SamplerName.parse(self.sampler)

    @property
    def spacing_name(self) -> Spacing:
        """The spacing in use: as chosen, else diffusers' default for the sampler's scheduler (``timestep_spacing``
        is "leading" for DDPMScheduler and DDIMScheduler, "linspace" for the Euler, Heun and DPM-Solver schedulers)."""
        if self.spacing is not None:
            try:
                return Spacing(self.spacing)
            except ValueError:
                names = ", ".join(m.value for m in Spacing)
                raise OptionError(f"Unknown spacing '{self.spacing}'; choose one of {names}.") from None
        return Spacing.LINSPACE if self.sampler_name.on_sigmas else Spacing.LEADING

    def checked(self, sched: Schedule) -> SamplingPlan:
        """Validate against a schedule; raise :class:`OptionError` with one sentence if something is off."""
        kind = self.sampler_name
        if not 0 <= self.eta <= 1:  # also refuses NaN
            raise OptionError(f"eta must be between 0 and 1, got {self.eta:g}.")
        if self.strength is not None and not 0 < self.strength <= 1:
            raise OptionError(f"The SDEdit strength must be above 0 and at most 1, got {self.strength:g}.")
        if self.batch < 1:
            raise OptionError("The batch size must be at least 1.")
        if not (0 <= self.churn < float("inf")):
            raise OptionError(f"The churn must be a number of at least 0, got {self.churn:g}.")
        if self.churn > 0 and kind is not SamplerName.HEUN:
            raise OptionError("Churn (Karras et al. Algorithm 2) applies to the heun sampler only.")
        if self.guidance_interval is not None:
            lo, hi = (float(v) for v in self.guidance_interval)
            if not (0 <= lo <= hi < float("inf")):
                raise OptionError(f"The guidance interval needs 0 <= LO <= HI, got {lo:g},{hi:g}.")
        if self.karras and not kind.on_sigmas:
            raise OptionError("Karras sigmas apply to the euler, heun and dpmpp_2m samplers, not DDPM/DDIM.")
        if not isinstance(self.steps_offset, int) or isinstance(self.steps_offset, bool) or self.steps_offset < 0:
            raise OptionError(f"The steps offset must be a whole number of at least 0, got {self.steps_offset!r}.")
        if self.final_sigmas_type != "zero" and kind not in (SamplerName.EULER, SamplerName.DPMPP_2M):
            raise OptionError("A final sigma other than zero applies to the euler and dpmpp_2m samplers only.")
        if not (0 < self.clip_range < float("inf")):
            raise OptionError(f"The x0 clipping range must be a positive number, got {self.clip_range:g}.")
        Variance(self.variance)
        self.spacing_name  # noqa: B018 - raises on an unknown spacing
        self.timesteps(sched)
        return self

    def _steps(self, sched: Schedule) -> int:
        kind = self.sampler_name
        if self.steps is not None:
            return self.steps
        return sched.T if kind is SamplerName.DDPM else min(DEFAULT_STEPS[kind], sched.T)

    def grid(self, sched: Schedule) -> SigmaGrid:
        """The sigma grid of a Euler/Heun/DPM-Solver++ plan (cut at t0 for an SDEdit start)."""
        grid = sigma_grid(
            self.sampler_name,
            sched,
            self._steps(sched),
            self.spacing_name,
            self.karras,
            self.steps_offset,
            self.final_sigmas_type,
        )
        return grid if self.strength is None else grid.from_time(round(self.strength * (sched.T - 1)))

    def timesteps(self, sched: Schedule) -> list[int]:
        """The descending timesteps this plan visits (cut at t0 for an SDEdit start); rounded for sigma grids."""
        if self.sampler_name.on_sigmas:
            return self.grid(sched).rounded_times()
        steps = self._steps(sched)
        if self.sampler_name is SamplerName.DDPM and steps == sched.T:
            ts = list(range(sched.T - 1, -1, -1))  # the whole chain: no room for a steps offset
        else:
            ts = ddim_timesteps(sched, steps, self.spacing_name, self.steps_offset)
        if self.strength is not None:
            t0 = round(self.strength * (sched.T - 1))
            ts = [t for t in ts if t <= t0]
            if not ts:
                raise OptionError("The SDEdit strength is too low for this number of steps: no step would run.")
        return ts

    def log_snrs(self, sched: Schedule) -> list[float]:
        """log SNR = log(abar / (1 - abar)) of each step's x_t: where the sampler places its steps on the
        noise-level axis, comparable across samplers (for a sigma grid, -2 log sigma)."""
        if self.sampler_name.on_sigmas:
            sigmas = self.grid(sched).sigmas[:-1]
            return [float(-2.0 * np.log(s)) for s in sigmas]
        return [float(sched.log_snr[t]) for t in self.timesteps(sched)]

    def with_guidance_interval(self) -> Guidance:
        """The plan's guidance with its interval."""
        return replace(self.guidance, interval=self.guidance_interval)

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
    """x_T ~ N(0, I), or for SDEdit x_{t0} = sqrt(abar_t0) x_init + sqrt(1 - abar_t0) eps (Meng et al. 2022).

    On a sigma grid the pure-noise start is z times diffusers' ``init_noise_sigma`` in VP scale
    (``grid.start_scale``), so a seed gives what diffusers' pipeline gives from the same z.
    """
    full = (plan.batch, *shape)
    noise = torch.randn(full, generator=generator, dtype=torch.float32)
    grid = plan.grid(sched) if plan.sampler_name.on_sigmas else None
    if plan.strength is None or init is None:
        return (noise if grid is None else noise * grid.start_scale).to(device)
    x0 = init.to(torch.float32).expand(full).clone()
    if grid is not None:
        abar = grid.alpha_bar(0)
        return (x0 * abar**0.5 + noise * (1 - abar) ** 0.5).to(device)
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
    start_noise = None
    if plan.sampler_name.on_sigmas and (plan.strength is None or init is None):
        # the same draw as start_sample's, kept for an exact VE start
        start_noise = torch.randn((plan.batch, *shape), generator=generator, dtype=torch.float32).to(device)
        x_start = start_noise * plan.grid(sched).start_scale
    else:
        x_start = start_sample(plan, sched, shape, generator, init, device)
    return _dispatch(model, sched, plan, x_start, None, generator, cancel, start_noise)


def plan_steps(
    model,
    sched: Schedule,
    plan: SamplingPlan,
    x_start: torch.Tensor,
    timesteps: list[int] | None = None,
    generator: torch.Generator | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Step]:
    """The plan's sampler, any kind, from a given VP ``x_start`` (for runs that branch or resume mid-way).

    ``timesteps``: a tail of ``plan.timesteps(sched)`` to run (default: all). On a sigma grid the tail starts at the
    first step whose rounded time is ``timesteps[0]``; DPM-Solver++(2M) then restarts its history, so its first
    step of a tail is first order (as at the start of any run).
    """
    plan.checked(sched)
    return _dispatch(model, sched, plan, x_start, timesteps, generator, cancel)


def _dispatch(
    model,
    sched: Schedule,
    plan: SamplingPlan,
    x_start: torch.Tensor,
    timesteps: list[int] | None,
    generator: torch.Generator | None,
    cancel: CancelToken | None,
    start_noise: torch.Tensor | None = None,
) -> Iterator[Step]:
    """The one place that picks the plan's sampler generator (``plan`` already checked)."""
    guidance = plan.with_guidance_interval()
    if plan.sampler_name.on_sigmas:
        grid = plan.grid(sched)
        if timesteps is not None:
            grid = grid.from_time(timesteps[0] + 0.5)
        return sigma_sampler(
            plan.sampler_name,
            model,
            sched,
            x_start,
            grid,
            guidance=guidance,
            churn=plan.churn,
            generator=generator,
            cancel=cancel,
            start_noise=start_noise,
            lower_order_final=plan.lower_order_final,
            euler_at_final=plan.euler_at_final,
        )
    return reverse_process(
        model,
        sched,
        x_start,
        plan.timesteps(sched) if timesteps is None else list(timesteps),
        method=plan.sampler_name,
        eta=plan.eta,
        variance=plan.variance,
        clip_x0=plan.clip_x0,
        clip_range=plan.clip_range,
        final_abar=1.0 if plan.set_alpha_to_one else float(sched.alpha_bars[0]),
        guidance=guidance,
        generator=generator,
        cancel=cancel,
    )

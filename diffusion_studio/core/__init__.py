"""The maths of Diffusion Studio, with no Qt: schedules, the forward process, reverse steps, samplers, guidance.

from diffusion_studio.core import make_schedule, q_sample, ddpm_step, ddim_step, ddim_timesteps
"""

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.forward import q_chain, q_posterior_mean, q_sample, q_step
from diffusion_studio.core.guidance import cfg_combine, classifier_log_prob_grad
from diffusion_studio.core.karras import dpmpp_2m_sampler, euler_sampler, heun_sampler, sigma_grid, sigma_sampler
from diffusion_studio.core.parameterization import (
    Prediction,
    eps_from_v,
    eps_from_x0,
    to_eps,
    v_from_eps_x0,
    x0_from_eps,
    x0_from_v,
)
from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.core.samplers import Guidance, Step, ddim_sampler, ddpm_sampler, drain, reverse_process
from diffusion_studio.core.schedules import SCHEDULE_NAMES, Schedule, make_schedule, schedule_from_spec
from diffusion_studio.core.sigmas import SigmaGrid, karras_sigmas
from diffusion_studio.core.steps import (
    SamplerName,
    Spacing,
    StepResult,
    Variance,
    ddim_sigma,
    ddim_step,
    ddim_timesteps,
    ddpm_coefficients,
    ddpm_sigma,
    ddpm_step,
)

__all__ = [
    "SCHEDULE_NAMES",
    "CancelToken",
    "Guidance",
    "Prediction",
    "SamplingPlan",
    "SamplerName",
    "Schedule",
    "SigmaGrid",
    "Spacing",
    "Step",
    "StepResult",
    "Variance",
    "cfg_combine",
    "classifier_log_prob_grad",
    "ddim_sampler",
    "ddim_sigma",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_coefficients",
    "ddpm_sampler",
    "ddpm_sigma",
    "ddpm_step",
    "dpmpp_2m_sampler",
    "drain",
    "eps_from_v",
    "eps_from_x0",
    "euler_sampler",
    "heun_sampler",
    "karras_sigmas",
    "make_schedule",
    "q_chain",
    "q_posterior_mean",
    "q_sample",
    "q_step",
    "reverse_process",
    "run_plan",
    "schedule_from_spec",
    "sigma_grid",
    "sigma_sampler",
    "to_eps",
    "v_from_eps_x0",
    "x0_from_eps",
    "x0_from_v",
]

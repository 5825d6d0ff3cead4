"""Words the window says in place (no Qt): first-launch defaults, notes on choices that teach something
surprising, and hover help for pane titles, plot curves and formula terms."""

from __future__ import annotations

from diffusion_studio.models.base import ModelInfo

# The first launch (no saved settings): the forward view shows a bundled photo, and Run samples a guided digit
# with DDIM in 50 steps, a few seconds on a CPU (seed 2 draws a clean 7).
FIRST_LAUNCH = {
    "model": "digits", "class": "7", "guidance": 3.0, "sampler": "ddim", "steps": 50, "eta": 0.0,
    "source": "noise", "sample": "chelsea", "seed": 2,
}

IDEAL_NOTE = (
    "<b>ideal</b> is the exact denoiser of a finite set of pictures (the bundled photos and yours): its "
    "x̂₀ is the posterior-weighted average of those pictures, and as t falls the weights collapse onto the "
    "nearest one. So a run returns one of its reference pictures: memorisation, the best possible answer "
    "for a training set of a few images. A trained network (digits, emoji) generalises instead."
)


def model_note(info: ModelInfo) -> str:
    """What a person should know about the chosen model before a run ('' when nothing)."""
    if info.name == "ideal":
        return IDEAL_NOTE
    if info.name == "gaussian":
        return ("<b>gaussian</b> is the exact denoiser for one Gaussian fitted to the reference pictures: "
                "it knows only their mean and covariance, so its samples are smooth colour fields, not photos.")
    return ""


def start_note(info: ModelInfo, source: str, image_shape: tuple[int, ...] | None, t0: int) -> str:
    """Say before the run what happens to a start picture that does not suit the model ('' when it suits)."""
    if source == "noise" or image_shape is None:
        return ""
    h, w = image_shape[:2]
    colour = len(image_shape) == 3 and image_shape[2] == 3
    changes = []
    if info.channels == 1 and colour:
        changes.append("turned grey")
    if info.image_size is not None and (h, w) != (info.image_size, info.image_size):
        changes.append(f"squeezed from {w} × {h} to {info.image_size} × {info.image_size} px")
    if not changes:
        return ""
    return (f"Your start picture will be {' and '.join(changes)}, then noised to t₀ = {t0} and denoised by "
            f"<b>{info.name}</b> (SDEdit): expect a {info.name}-like picture with your picture's rough layout, "
            "not your picture. Choose “Pure noise” to sample the model freely.")


def cost_note(info: ModelInfo, sampler: str, steps: int, T: int) -> str:  # noqa: N803 - the paper's T
    """Warn before a long run of a trained network: DDPM over every t is T model calls ('' when short)."""
    calls = steps or (T if sampler == "ddpm" else 50)
    if info.schedule is None or calls <= 200:
        return ""
    return (f"{calls} steps: {calls} calls of the {info.name} network, about a minute on a laptop CPU. DDIM with "
            "50 steps draws a similar picture in a few seconds.")


PANE_TIPS = {
    "forward": (
        "x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε: the picture after t steps of noise, in one closed-form jump",
        "x₀: the clean picture (or, with the chained process on, x_t noised one step at a time)",
        "ε ~ N(0, I): the one fixed noise picture mixed in at every t (Resample noise draws another)",
    ),
    "reverse": (
        "x_t: the input of this step (noise at the start of the run, the sample at its end)",
        "x̂₀ = (x_t − √(1−ᾱ_t)·ε̂_θ) / √ᾱ_t: the model's guess of the clean picture at this step",
        "ε̂_θ(x_t, t): the noise the model sees in x_t (shown from −3 to +3: mid-grey is 0)",
    ),
}

CURVE_TIPS = {
    "beta": "β_t: the variance of the noise added in the one step t−1 → t",
    "posterior_variance": "β̃_t = β_t·(1−ᾱ_(t−1))/(1−ᾱ_t): the variance of q(x_(t−1) | x_t, x₀), DDPM's usual σ²",
    "alpha_bar": "ᾱ_t = ∏(1−β_s): the share of x₀'s variance left in x_t",
    "sqrt_alpha_bar": "√ᾱ_t: how much of x₀ is left in x_t (the signal scale)",
    "sqrt_one_minus": "√(1−ᾱ_t): how much noise is in x_t (the noise scale)",
    "log_snr": "log(ᾱ_t/(1−ᾱ_t)): the log signal-to-noise ratio; 0 where signal and noise are equal",
}

# formula terms of the maths panel: key -> (tooltip, the plot curve or pane it belongs to)
TERMS = {
    "abar": ("ᾱ_t: the share of x₀ left in x_t (the blue curve in 'signal left')", "alpha_bar"),
    "beta": ("β_t: the noise variance added by one step (the 'noise per step' curve)", "beta"),
    "x_t": ("x_t: the noisy picture at t (the left pane)", "pane:0"),
    "x0": ("x₀ / x̂₀: the clean picture or the model's guess of it (the middle pane)", "pane:1"),
    "eps": ("ε / ε̂_θ: the noise, fixed or predicted (the right pane)", "pane:2"),
    "sigma": ("σ_t: the size of the fresh noise z added by this reverse step", "posterior_variance"),
    "snr": ("log-SNR = log(ᾱ_t/(1−ᾱ_t)): the log signal-to-noise ratio", "log_snr"),
    "guidance": ("The guidance term: how far the condition pushes the noise prediction", "pane:2"),
}

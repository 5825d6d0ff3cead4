"""Check the CUDA paths on a machine with a GPU, in one go, and print what was seen (no Qt needed).

    python benchmarks/gpu_check.py --out DIR [--data mnist28.npz] [--skip-train]

What it runs, each part reported as ``PASS``/``FAIL``/``SKIP`` with its figures:

1. every sampler on the built-in models, CUDA against the CPU (same seed: noise is drawn on a CPU generator, so
   the runs should differ only by floating-point order and TF32 convolutions), and the time per step on each;
   classifier-free and classifier guidance, SDEdit from a picture, a batch;
2. the step->frame stream on CUDA (each step copied to the CPU at once, so no GPU memory is held);
3. the real CUDA out-of-memory fallback: the process's GPU memory is capped so a big batch cannot fit, and the
   stream must restart on the CPU with the same seed, classifier guidance included;
4. the CLI on CUDA (`sample --gif`, `compare`, `lens`), writing files into DIR to look at;
5. training on CUDA with bf16 (small U-Net, then a resume), `--arch unet2d` + `export-diffusers`, a diffusers
   pipeline on the exported folder against our sampler on CUDA, and `torchrun` with the NCCL backend.

The parts are independent: one failing does not stop the others. It prints a summary line per part at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

RESULTS: list[tuple[str, str, str]] = []
DEV = "cuda"  # --dry-run-on-cpu sets "cpu": the same script, to find its own mistakes on a machine without a GPU


def report(name: str, ok: bool | None, detail: str) -> None:
    status = "SKIP" if ok is None else "PASS" if ok else "FAIL"
    RESULTS.append((name, status, detail))
    print(f"[{status}] {name}: {detail}", flush=True)


def part(fn):
    def wrapped(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a check script reports every failure and goes on
            report(fn.__name__, False, "raised:\n" + traceback.format_exc(limit=6))
        print(f"    ({fn.__name__} took {time.perf_counter() - t0:.1f} s)", flush=True)

    return wrapped


def _run(model: str, device: str, **kw):
    """One whole run through the session layer; returns (final x as float CPU tensor, seconds per step, steps)."""
    from diffusion_studio.core.plan import SamplingPlan, run_plan
    from diffusion_studio.session.frames import stream_frames
    from diffusion_studio.session.request import RunRequest, prepare_run

    plan_keys = {"sampler", "steps", "eta", "spacing", "seed", "batch", "strength", "churn"}
    plan = SamplingPlan(**{k: v for k, v in kw.items() if k in plan_keys})
    req = RunRequest(model=model, device=device, plan=plan, **{k: v for k, v in kw.items() if k not in plan_keys})
    prepared = prepare_run(req)
    if device == "cuda":  # one untimed pass first: CUDA and cuDNN load and pick kernels on first use
        for _ in zip(range(2), run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape,
                                        prepared.init, prepared.device), strict=False):
            pass
    frames = []
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    last = None
    for step in run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape, prepared.init,
                         prepared.device):
        last = step
        frames.append(step.t)
    if device == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / max(1, len(frames))
    assert last is not None
    # the stream as well (the window and the CLI read it): every frame must come through
    streamed = [f for f in stream_frames(prepare_run(req))]
    return last.x_prev.float().cpu(), dt, len(frames), streamed


@part
def samplers_cuda_vs_cpu() -> None:
    cases = [
        ("digits", dict(sampler="ddpm", steps=100, class_label=7, cfg_scale=3.0)),
        ("digits", dict(sampler="ddim", steps=50, class_label=7, cfg_scale=3.0)),
        ("digits", dict(sampler="ddim", steps=50, eta=1.0, class_label=3, cfg_scale=2.0)),
        ("digits", dict(sampler="euler", steps=25, spacing="karras", class_label=7, cfg_scale=3.0)),
        ("digits", dict(sampler="heun", steps=15, class_label=2, cfg_scale=3.0)),
        ("digits", dict(sampler="heun", steps=15, churn=20.0, class_label=2, cfg_scale=3.0)),
        ("digits", dict(sampler="dpmpp_2m", steps=20, spacing="karras", class_label=5, cfg_scale=3.0)),
        ("digits", dict(sampler="ddim", steps=50, class_label=7, classifier_scale=2.0)),
        ("digits", dict(sampler="ddim", steps=50, batch=16, class_label=1, cfg_scale=3.0)),
        ("emoji", dict(sampler="dpmpp_2m", steps=25, class_label=0, cfg_scale=3.0)),
        ("emoji", dict(sampler="ddim", steps=50, class_label=2, cfg_scale=3.0, seed=4)),
    ]
    for model, kw in cases:
        kw.setdefault("seed", 1)
        gpu, dt_gpu, n, streamed = _run(model, DEV, **kw)
        cpu, dt_cpu, _, _ = _run(model, "cpu", **kw)
        diff = float((gpu - cpu).abs().max())
        rel = float((gpu - cpu).norm() / cpu.norm().clamp_min(1e-12))
        label = f"{model} {kw}"
        ok = rel < 1e-2 and len(streamed) == n + 1 and all(f.tensor(0) is not None and f.tensor(0).device.type == "cpu"
                                                      for f in streamed)
        report(f"sampler {label}", ok, f"{n} steps; CUDA {dt_gpu * 1e3:.2f} ms/step, CPU {dt_cpu * 1e3:.2f} ms/step; "
               f"max|gpu-cpu| {diff:.2e}, relative {rel:.2e}; {len(streamed)} frames streamed, all CPU tensors")


@part
def sdedit_cuda() -> None:
    from diffusion_studio.io.images import load_image

    root = Path(__file__).resolve().parents[1]
    image = load_image(root / "resources" / "samples" / "chelsea.png")
    kw = dict(sampler="ddim", steps=40, strength=0.5, seed=2, init_array=image)
    gpu, dt, n, _ = _run("ideal", DEV, **kw)
    cpu, _, _, _ = _run("ideal", "cpu", **kw)
    rel = float((gpu - cpu).norm() / cpu.norm())
    report("SDEdit (ideal, chelsea, strength 0.5)", rel < 1e-3, f"{n} steps, {dt * 1e3:.2f} ms/step on CUDA, "
           f"relative gpu-cpu {rel:.2e}")


@part
def out_of_memory_fallback() -> None:
    from diffusion_studio.core.plan import SamplingPlan
    from diffusion_studio.session.frames import Notice, stream_frames
    from diffusion_studio.session.request import RunRequest, prepare_run

    for label, extra in (("cfg", dict(cfg_scale=3.0)), ("classifier guidance", dict(classifier_scale=2.0))):
        req = RunRequest(model="digits", device="cuda", class_label=7, plan=SamplingPlan(
            sampler="ddim", steps=2, batch=1024, seed=3), **extra)
        prepared = prepare_run(req)
        torch.cuda.empty_cache()
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(64 * 2**20 / total)  # 64 MiB: the weights fit, the batch not
        try:
            items = list(stream_frames(prepared))
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        notices = [i for i in items if isinstance(i, Notice)]
        frames = [i for i in items if not isinstance(i, Notice)]
        ok = (len(notices) == 1 and notices[0].restart and "CPU" in notices[0].device and len(frames) == 3
              and prepared.model.device.type == "cpu"
              and (prepared.plan.guidance.classifier is None
                   or next(prepared.plan.guidance.classifier.parameters()).device.type == "cpu"))
        report(f"CUDA OOM fallback ({label}, batch 1024)", ok,
               f"notices {[n.text for n in notices]}; {len(frames)} frames after it; picture {frames[-1].x_t.shape}")
        prepared.model.to("cpu")


def cli(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "diffusion_studio", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@part
def cli_on_cuda(out: Path) -> None:
    runs = {
        "sample digits gif": ["sample", "--model", "digits", "--class", "7", "--guidance", "3", "--sampler", "ddim",
                              "--steps", "50", "--device", DEV, "--gif", str(out / "digits_cuda.gif"),
                              "--sheet", str(out / "digits_cuda_sheet.png")],
        "sample emoji dpmpp batch": ["sample", "--model", "emoji", "--class", "0", "--guidance", "3", "--sampler",
                                     "dpmpp_2m", "--spacing", "karras", "--steps", "25", "--batch", "8", "--device",
                                     DEV, "--png", str(out / "emoji_cuda.png")],
        "compare samplers": ["compare", "--model", "digits", "--class", "7", "--guidance", "3", "--steps", "10",
                             "--device", DEV, "--vary", "sampler=ddim,euler,heun,dpmpp_2m",
                             "--png", str(out / "compare_cuda.png")],
        "lens spectrum": ["lens", "spectrum", "--model", "digits", "--class", "7", "--guidance", "3", "--device",
                          DEV, "--png", str(out / "lens_spectrum_cuda.png")],
    }
    for name, argv in runs.items():
        t0 = time.perf_counter()
        p = cli(argv)
        tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
        report(f"CLI {name}", p.returncode == 0, f"rc {p.returncode} in {time.perf_counter() - t0:.1f} s; {tail}")


@part
def training_on_cuda(data: Path, work: Path, out: Path, scale: float = 1.0) -> None:
    n = lambda steps: str(max(2, int(steps * scale)))  # noqa: E731 - the dry run trains 1/100 as long
    base = ["train", "--data", str(data), "--classes", "--device", DEV, "--log-every", "200"]
    t0 = time.perf_counter()
    p = cli([*base, "--out", str(work / "small"), "--steps", n(1500), "--batch", "128", "--checkpoint-every", n(500)])
    wall = time.perf_counter() - t0
    lines = (p.stdout + p.stderr).strip().splitlines()
    report("train small U-Net, bf16, 1500 steps x 128", p.returncode == 0,
           f"rc {p.returncode}, {wall:.1f} s wall ({int(n(1500)) * 128 / wall:.0f} img/s incl. start-up); "
           f"{lines[:1]} ... {lines[-3:]}")
    p = cli([*base, "--out", str(work / "small"), "--steps", n(1700), "--batch", "128", "--resume"])
    report("train resume to 1700", p.returncode == 0, f"rc {p.returncode}; {(p.stdout + p.stderr).splitlines()[-2:]}")
    if (work / "small" / "samples.png").exists():
        (out / "train_small_samples.png").write_bytes((work / "small" / "samples.png").read_bytes())
    p = cli(["sample", "--model", str(work / "small"), "--class", "4", "--guidance", "3", "--sampler", "ddim",
             "--steps", "50", "--device", DEV, "--png", str(out / "trained_on_gpu_4.png")])
    report("sample the GPU-trained model", p.returncode == 0, f"rc {p.returncode}; {(p.stdout + p.stderr)[-200:]}")

    plain = [a for a in base if a != "--classes"]  # unconditional, so diffusers' pipelines can run it
    p = cli([*plain, "--arch", "unet2d", "--out", str(work / "u2d"), "--steps", n(300), "--batch", "64"])
    report("train --arch unet2d (diffusers UNet2DModel)", p.returncode == 0,
           f"rc {p.returncode}; {(p.stdout + p.stderr).strip().splitlines()[-2:]}")
    p = cli(["export-diffusers", str(work / "u2d"), str(work / "u2d_hf")])
    report("export-diffusers", p.returncode == 0, f"rc {p.returncode}; {(p.stdout + p.stderr).strip()[-200:]}")
    _pipeline_agreement(work / "u2d_hf")


def _pipeline_agreement(folder: Path) -> None:
    """Our sampler on the exported folder against diffusers' scheduler loop, both on CUDA, same x_T."""
    try:
        import diffusers
    except ImportError:
        report("diffusers schedulers on CUDA", None, "diffusers is not installed here")
        return
    from diffusion_studio.core.plan import SamplingPlan, run_plan
    from diffusion_studio.session.request import RunRequest, prepare_run

    pipe = diffusers.DDPMPipeline.from_pretrained(str(folder))
    unet = pipe.unet.to(DEV).eval()
    size, channels = unet.config.sample_size, unet.config.in_channels
    schedulers = {
        "ddim": (diffusers.DDIMScheduler, dict(use_clipped_model_output=True)),
        "euler": (diffusers.EulerDiscreteScheduler, {}),
        "dpmpp_2m": (diffusers.DPMSolverMultistepScheduler, {}),
    }
    for name, (cls, step_kwargs) in schedulers.items():
        scheduler = cls.from_config(pipe.scheduler.config)
        x = torch.randn((2, channels, size, size), generator=torch.Generator().manual_seed(5)).to(DEV)
        scheduler.set_timesteps(20)
        x = x * scheduler.init_noise_sigma
        with torch.no_grad():
            for t in scheduler.timesteps:
                eps = unet(scheduler.scale_model_input(x, t), t).sample
                x = scheduler.step(eps, t, x, **step_kwargs).prev_sample
        ref = x.float().cpu()
        plan = SamplingPlan(sampler=name, steps=20, seed=5, batch=2, spacing=scheduler.config.timestep_spacing)
        prepared = prepare_run(RunRequest(model=str(folder), device=DEV, plan=plan))
        last = None
        for step in run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape, None, DEV):
            last = step
        ours = last.x_prev.float().cpu()
        rel = float((ours - ref).norm() / ref.norm())
        report(f"{name} on the exported folder vs diffusers {cls.__name__}, both CUDA", rel < 1e-3,
               f"relative {rel:.2e} (ref std {float(ref.std()):.3f})")


@part
def torchrun_nccl(data: Path, work: Path, steps: int = 300) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m",
            "diffusion_studio.training.command", "--data", str(data), "--classes", "--out", str(work / "ddp"),
            "--steps", str(steps), "--batch", "128", "--device", DEV, "--log-every", "100"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env)
    text = p.stdout + p.stderr
    report("torchrun 1 process, NCCL", p.returncode == 0,
           f"rc {p.returncode}; {text.strip().splitlines()[-3:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--parts", default="samplers,sdedit,oom,cli,train,torchrun", help="which parts to run")
    ap.add_argument("--train-scale", type=float, default=1.0, help="multiply the training steps (0.2: a quick rerun)")
    ap.add_argument("--dry-run-on-cpu", action="store_true", help="run the script's logic on the CPU (no GPU checks)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    global DEV
    if args.dry_run_on_cpu:
        DEV = "cpu"
    elif not torch.cuda.is_available():
        print("No CUDA GPU here: nothing to check.")
        return 1
    else:
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, numpy {np.__version__}, "
              f"cudnn.allow_tf32 {torch.backends.cudnn.allow_tf32}, matmul.allow_tf32 "
              f"{torch.backends.cuda.matmul.allow_tf32}", flush=True)
    work = Path("/tmp/gpu_check_work")
    parts = set(args.parts.split(","))
    if "samplers" in parts:
        samplers_cuda_vs_cpu()
    if "sdedit" in parts:
        sdedit_cuda()
    if "oom" in parts and DEV == "cuda":
        out_of_memory_fallback()
    if "cli" in parts:
        cli_on_cuda(args.out)
    scale = 0.01 if DEV == "cpu" else args.train_scale
    if args.data and not args.skip_train and "train" in parts:
        training_on_cuda(args.data, work, args.out, scale)
    if args.data and not args.skip_train and "torchrun" in parts:
        torchrun_nccl(args.data, work, max(3, int(300 * scale)))
    print("\nSUMMARY")
    for name, status, _detail in RESULTS:
        print(f"{status} {name}")
    return 0 if all(s != "FAIL" for _, s, _ in RESULTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())

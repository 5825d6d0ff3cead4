"""Model report: sample each built-in model, write contact sheets, and measure quality and speed.

    python benchmarks/model_report.py [--models digits emoji] [--data ../shared/datasets] [--out docs/report]

- sheets: one row per class, DDIM 50 steps and DDPM 1000 steps (emoji also DDIM 50 with eta = 1), fixed seeds
  (PNG in --out);
- digits: an ordinary digit classifier (a small CNN trained here on the real MNIST images, not the guidance
  classifier) reads class-conditional samples; accuracy per guidance scale, classifier-free and classifier guidance;
- emoji: each sample's distance to its nearest training image (are they copies?);
- speed: ms per sampling step at batch 1 and 16 on this CPU.
Needs the training data (not needed by the app or the tests).
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from diffusion_studio.core import Guidance, SamplingPlan, drain, run_plan
from diffusion_studio.io.frames import to_uint8_batch
from diffusion_studio.io.gif import export_contact_sheet
from diffusion_studio.models import load_classifier, load_model

DATA = {"digits": "mnist28.npz", "emoji": "emoji_rgb32.npz"}


def sample(model, label, n, sampler="ddim", steps=50, cfg=1.0, classifier=None, clf_scale=0.0, seed=0, eta=0.0):
    info = model.info
    sched = info.training_schedule()
    guidance = Guidance(label, info.null_class, cfg, classifier, clf_scale)
    plan = SamplingPlan(sampler=sampler, steps=steps if sampler == "ddim" else None, seed=seed, batch=n,
                        guidance=guidance, eta=eta)
    shape = (info.channels, info.image_size, info.image_size)
    return drain(run_plan(model, sched, plan, shape))


def class_sheet(model, path: Path, sampler: str, per_class: int, cfg: float, eta: float = 0.0) -> float:
    start = time.perf_counter()
    rows, labels = [], []
    for c, name in enumerate(model.info.class_names):
        x = sample(model, c, per_class, sampler=sampler, cfg=cfg, seed=100 + c, eta=eta)
        rows.extend(list(to_uint8_batch(x)))
        labels.extend([name[:14]] + [""] * (per_class - 1))
    export_contact_sheet(path, rows, labels, columns=per_class, scale=2)
    return time.perf_counter() - start


class DigitReader(nn.Module):
    """An ordinary MNIST classifier (clean images): the judge of class-conditional samples."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def train_reader(npz: Path) -> tuple[DigitReader, float]:
    data = np.load(npz, allow_pickle=False)
    x = torch.from_numpy(data["x"]).float()[:, None] / 127.5 - 1
    y = torch.from_numpy(data["y"]).long()
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=g)
    test, train = order[:1000], order[1000:]
    net = DigitReader()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _epoch in range(4):
        for idx in train[torch.randperm(len(train), generator=g)].split(64):
            xb = x[idx]
            shift = torch.randint(-2, 3, (2,), generator=g).tolist()  # small translations: samples are not centred
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(x[test]).argmax(1) == y[test]).float().mean().item()
    return net, acc


def digits_accuracy(model, reader: DigitReader, per_class: int, scales, kind: str) -> list[tuple[float, float]]:
    classifier = load_classifier("digits") if kind == "classifier" else None
    out = []
    for s in scales:
        correct = 0
        for c in range(10):
            if kind == "cfg":
                x = sample(model, c, per_class, cfg=s, seed=1000 + c)
            else:
                x = sample(model, c, per_class, cfg=1.0, classifier=classifier, clf_scale=s, seed=1000 + c)
            with torch.no_grad():
                correct += int((reader(x.clamp(-1, 1)).argmax(1) == c).sum())
        out.append((s, correct / (10 * per_class)))
    return out


def nearest_distances(model, npz: Path, n_per_class: int, sheet: Path) -> tuple[np.ndarray, float]:
    """RMS pixel distance (0..1 scale) from each sample to its nearest training image, and the same for
    training images to their nearest other training image (what 'close' looks like in this data). Writes
    ``sheet``: each sample (odd rows) above its nearest training image (even rows), one column per class."""
    images = np.load(npz, allow_pickle=False)["x"]
    train = torch.from_numpy(images).float().flatten(1) / 255
    batches = []
    for c in range(model.info.num_classes):
        x = sample(model, c, n_per_class, cfg=3.0, seed=2000 + c, eta=1.0)  # DDIM 50, eta 1
        batches.append(to_uint8_batch(x))
    s = torch.from_numpy(np.concatenate(batches)).float().flatten(1) / 255
    d, nearest = (torch.cdist(s, train) / train.shape[1] ** 0.5).min(1)
    rows, labels = [], []
    for i in range(n_per_class):  # sample i of every class, then their nearest training images
        rows += [b[i] for b in batches]
        rows += [images[nearest[c * n_per_class + i]] for c in range(len(batches))]
        labels += ["sample"] + [""] * (len(batches) - 1) + ["nearest"] + [""] * (len(batches) - 1)
    export_contact_sheet(sheet, rows, labels, columns=len(batches), scale=2)
    probe = train[:500]
    dt = torch.cdist(probe, train)
    dt[torch.arange(500), torch.arange(500)] = float("inf")
    return d.numpy(), float((dt.min(1).values / train.shape[1] ** 0.5).median())


def speed(model, batch: int) -> float:
    info = model.info
    x = torch.randn(batch, info.channels, info.image_size, info.image_size)
    t = torch.full((batch,), 500)
    sched = info.training_schedule()
    for _ in range(3):
        model.predict_eps(x, t, sched)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        model.predict_eps(x, t, sched)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["digits", "emoji"])
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    p.add_argument("--out", type=Path, default=Path("docs/report"))
    p.add_argument("--per-class", type=int, default=20, help="samples per class for the accuracy figures")
    p.add_argument("--skip-ddpm", action="store_true", help="skip the (slow) DDPM 1000-step sheets")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    print(f"# Model report, {date.today()}, {platform.node()} ({platform.machine()}, {torch.get_num_threads()} "
          f"threads), torch {torch.__version__}")
    for name in args.models:
        model = load_model(name)
        info = model.info
        print(f"\n## {name}: {info.parameters / 1e6:.2f}M parameters, {info.image_size}px, "
              f"{info.num_classes} classes, {info.extra.get('training', {}).get('steps', '?')} training steps")
        print(f"speed: {speed(model, 1):.1f} ms/step at batch 1, {speed(model, 16):.1f} ms/step at batch 16")
        s1 = class_sheet(model, args.out / f"{name}_ddim50_cfg3.png", "ddim", 8, 3.0)
        print(f"sheet: DDIM 50 ({s1:.0f} s), guidance 3, in {args.out}")
        if name == "emoji":  # the stochastic DDIM (eta = 1) forgives a small model's errors better
            s3 = class_sheet(model, args.out / f"{name}_ddim50_eta1_cfg3.png", "ddim", 8, 3.0, eta=1.0)
            print(f"sheet: DDIM 50, eta 1 ({s3:.0f} s), guidance 3, in {args.out}")
        if not args.skip_ddpm:
            s2 = class_sheet(model, args.out / f"{name}_ddpm1000_cfg3.png", "ddpm", 4, 3.0)
            print(f"sheet: DDPM 1000 ({s2:.0f} s), guidance 3, in {args.out}")
        if name == "digits":
            reader, acc = train_reader(args.data / DATA[name])
            print(f"digit reader (CNN trained on 9,000 real MNIST images): {acc:.1%} on 1,000 held-out ones")
            n = 10 * args.per_class
            for kind, scales in (("cfg", [0.0, 1.0, 2.0, 3.0, 5.0]), ("classifier", [0.0, 1.0, 3.0, 10.0])):
                rows = digits_accuracy(model, reader, args.per_class, scales, kind)
                label = "classifier-free guidance" if kind == "cfg" else "classifier guidance"
                print(f"{label}, DDIM 50, {n} samples each: "
                      + ", ".join(f"s={s:g}: {a:.1%}" for s, a in rows) + "  (chance 10%)")
        if name == "emoji":
            d, ref = nearest_distances(model, args.data / DATA[name], 4, args.out / f"{name}_nearest.png")
            print(f"nearest training image, RMS pixel distance of {len(d)} samples (DDIM 50, eta 1, guidance 3; "
                  f"0..1): min {d.min():.3f}, "
                  f"median {np.median(d):.3f}, max {d.max():.3f}; a training image to its nearest other one: "
                  f"median {ref:.3f}")


if __name__ == "__main__":
    main()

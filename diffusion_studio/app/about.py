"""Help texts: the About box and "What am I looking at?"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from diffusion_studio import APP_ID, APP_NAME, __version__

EXPLANATION = """
<h2>What am I looking at?</h2>
<p>A <b>diffusion model</b> makes pictures by learning to undo noise. Training adds Gaussian noise to real
pictures a little at a time (the <i>forward process</i>); sampling starts from pure noise and removes it step by
step (the <i>reverse process</i>). This window shows both.</p>
<h3>The timeline</h3>
<p>Time t runs from T−1 on the left (pure noise) to 0 on the right; the extra position at the far right, x₀, is
the clean picture. Drag the red playhead, or use ← →, PgUp/PgDn, Home/End, and Space to play.</p>
<h3>Forward view: adding noise</h3>
<p>For every t the noisy picture has a closed form: <b>x<sub>t</sub> = √ᾱ<sub>t</sub>·x₀ + √(1−ᾱ<sub>t</sub>)·ε</b>
with one fixed noise picture ε (right pane; <i>Resample noise</i> draws another). ᾱ<sub>t</sub> is the product of
(1−β<sub>s</sub>) over all steps s ≤ t, plotted on the right. <i>Show the chained process</i> adds noise one step
at a time instead, q(x<sub>t</sub> | x<sub>t−1</sub>): a different draw of the same distribution.</p>
<h3>Reverse view: removing it</h3>
<p><b>Run</b> samples with the chosen model. At every step the model looks at x<sub>t</sub> (left pane) and
predicts the noise in it, ε̂<sub>θ</sub> (right pane); from that follows its guess of the clean picture,
<i>x̂</i><sub>0</sub> (middle pane). The sampler then takes a small step towards that guess (DDPM adds a little
fresh noise, DDIM with η = 0 adds none). Early guesses are blurry averages; they sharpen as t falls.</p>
<p><i>View &gt; Right Pane</i> (or the box in the top bar) shows instead the predicted velocity
<i>v̂</i> = √ᾱ<sub>t</sub>·ε̂ − √(1−ᾱ<sub>t</sub>)·<i>x̂</i><sub>0</sub> of v-prediction models, or the flow velocity
ε̂ − <i>x̂</i><sub>0</sub>: the direction of the straight path from the guess to the noise, along which DDIM (η = 0)
takes Euler steps. The maths panel works the step out in those coordinates.</p>
<p>Pixel values: pictures are shown from −1 (black) to +1 (white); noise panes from −3 to +3, so mid-grey is 0.
Hover a pane to read exact values.</p>
<h3>Models</h3>
<p><b>ideal</b> is the exact best denoiser for a tiny data set (the sample photos plus your picture): it can only
ever produce one of them, which shows what a model that memorises its data does. <b>gaussian</b> is the best
denoiser if pictures were just Gaussian blobs: it produces the blurry mean. Trained models, when installed, have
learned real structure.</p>
<h3>The plots and the maths</h3>
<p>The plots show the schedule: β<sub>t</sub> (noise added per step), ᾱ<sub>t</sub> (signal left) and optional
curves; the red line is the playhead, and you can drag it too. The maths panel writes out the formulas of the
current step with its numbers.</p>
"""


class AboutDialog(QDialog):
    """Name, version, icon, id and a line about the project."""

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        picture = QLabel()
        if not icon.isNull():
            picture.setPixmap(icon.pixmap(96, 96))
        text = QLabel(
            f"<h2>{APP_NAME}</h2><p>Version {__version__}</p>"
            "<p>See how a diffusion model works: noise your own picture, watch a model denoise it step by step, "
            "and export the animation.</p>"
            f"<p style='color:gray'>{APP_ID}<br>Released under the MIT licence. "
            "Sample photographs: see resources/samples/NOTICE.md.</p>"
        )
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        text.setOpenExternalLinks(True)
        row = QHBoxLayout()
        row.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(460, 220)


class ExplainDialog(QDialog):
    """The "What am I looking at?" text in a scrollable, non-modal window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("What am I looking at?")
        browser = QTextBrowser()
        browser.setHtml(EXPLANATION)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        self.resize(620, 640)

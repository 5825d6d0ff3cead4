"""The desktop window: the only package that imports Qt.

Qt only adapts here: the maths lives in :mod:`diffusion_studio.core`, the frame stream and store shared with the
CLI in :mod:`diffusion_studio.session`; the app's remaining non-Qt helpers (:mod:`.forward_view`) can be used and
tested without a display.
Start it with ``diffusion-studio`` or :func:`diffusion_studio.app.main.run_app`.
"""

"""The desktop window: the only package that imports Qt.

Qt only adapts here: the maths lives in :mod:`diffusion_studio.core`; runs, comparisons, the frame stream and
store, the forward view and export plans shared with the CLI live in :mod:`diffusion_studio.session` (the old
``app.streaming``, ``app.forward_view`` and ``app.exporting`` names re-export them).
Start it with ``diffusion-studio`` or :func:`diffusion_studio.app.main.run_app`.
"""

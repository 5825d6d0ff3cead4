"""Data files of Diffusion Studio: icons, bundled sample images and built-in model weights (no code)."""

"""Image loading with typed errors, atomic writes, and GIF / contact-sheet export (no Qt)."""

"""Moved to :mod:`diffusion_studio.session.forward_view` (no Qt); this name stays for existing imports."""

from diffusion_studio.session.forward_view import CHAIN_BUDGET_BYTES, ChainStore, ForwardProcess

__all__ = ["CHAIN_BUDGET_BYTES", "ChainStore", "ForwardProcess"]

"""Training: data loading, DDPM Algorithm 1, EMA, checkpoints and the `train` command."""

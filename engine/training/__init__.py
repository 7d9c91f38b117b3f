"""Training a generator: the config, the loop, its GAN step, losses, checkpoints and run folders."""

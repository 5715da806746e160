"""Layers, losses, initializers, optimizers and the training loop, built on generated gradients."""

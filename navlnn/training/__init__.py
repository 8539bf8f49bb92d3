"""Behaviour cloning: the training loop, augmentation and checkpoints."""

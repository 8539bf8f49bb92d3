"""navlnn's Hydra config tree; installed as the package ``envs.conf`` so that a wheel carries it."""

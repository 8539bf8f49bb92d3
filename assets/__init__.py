"""Airframe and target assets; installed as the package ``envs.assets`` so that a wheel carries them."""

"""Simulation side of navlnn: PyBullet quadrotor, scenes, tasks and Gymnasium environments.

This package stands alone: it never imports ``navlnn``.
"""

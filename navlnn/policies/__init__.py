"""Policies: the CNN trunk, the controller heads (one module per family), the policy that joins
them, the head registry, checkpoint I/O and ONNX export. Built on :mod:`navlnn.liquid`.
"""

from navlnn.policies.checkpoint import load_policy, read_checkpoint, save_checkpoint
from navlnn.policies.heads import Head
from navlnn.policies.policy import Policy, build_policy
from navlnn.policies.registry import register_head
from navlnn.policies.trunk import ConvTrunk

__all__ = ["Policy", "build_policy", "ConvTrunk", "Head", "register_head", "load_policy", "read_checkpoint",
           "save_checkpoint"]

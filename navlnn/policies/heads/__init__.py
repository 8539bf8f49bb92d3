"""Controller heads, one module per family: liquid (CfC/LTC), gated recurrent (LSTM/GRU),
continuous-time baselines (GRU-ODE, CT-RNN) and convolutional (per-frame CNN, TCN).

A head of one's own subclasses :class:`Head` (see docs/policies.md, "A head of your own").
"""

from navlnn.policies.heads.base import Head, feature_norm
from navlnn.policies.heads.continuous import CTRNNHead, GRUODEHead
from navlnn.policies.heads.convolutional import FeedForwardHead, TCNHead
from navlnn.policies.heads.gated import RecurrentHead
from navlnn.policies.heads.liquid import LiquidHead

__all__ = ["Head", "feature_norm", "LiquidHead", "RecurrentHead", "GRUODEHead", "CTRNNHead", "FeedForwardHead", "TCNHead"]

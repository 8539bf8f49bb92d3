"""Closed-loop evaluation: :mod:`~navlnn.evaluation.plan` (checks, the episode list),
:mod:`~navlnn.evaluation.run` (sharding, cache, resume), :mod:`~navlnn.evaluation.report`
(metrics and files), :mod:`~navlnn.evaluation.shards` (merging shards), and the attention
recorder it registers with the rollout layer (:mod:`~navlnn.evaluation.attention`)."""

from navlnn.evaluation import attention  # noqa: F401  (registers the attention recorder)

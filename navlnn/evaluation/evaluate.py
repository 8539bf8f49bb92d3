"""Deprecated: ``navlnn.evaluation.evaluate`` was split by job into :mod:`navlnn.evaluation.plan`
(input checks, the episode list), :mod:`navlnn.evaluation.run` (sharding, cache, resume) and
:mod:`navlnn.evaluation.report` (metrics, report files); the seed scheme is
:mod:`navlnn.rollout.seeds`. The old names work from here for one more release, with a
``DeprecationWarning``."""

import warnings

from navlnn.evaluation.plan import (
    BadInput,
    Model,
    Plan,
    check_env_fits,
    chosen,
    plan,
    plan_jobs,
    scene_label,
    task_name,
)
from navlnn.evaluation.report import Result, attention_table, markdown_table, write_csv, write_report
from navlnn.evaluation.run import evaluate, parse_shard, shard_jobs
from navlnn.rollout.seeds import EVAL_SEED_OFFSET, SEED_BITS, eval_seeds

warnings.warn("navlnn.evaluation.evaluate is deprecated and will be removed in the next release; import "
              "navlnn.evaluation.plan (plan, check_env_fits, plan_jobs), navlnn.evaluation.run (evaluate, "
              "parse_shard, shard_jobs), navlnn.evaluation.report (write_report, write_csv, tables) or "
              "navlnn.rollout.seeds (eval_seeds) instead", DeprecationWarning, stacklevel=2)

__all__ = ["EVAL_SEED_OFFSET", "SEED_BITS", "BadInput", "Model", "Plan", "Result", "attention_table",
           "check_env_fits", "chosen", "eval_seeds", "evaluate", "markdown_table", "parse_shard", "plan",
           "plan_jobs", "scene_label", "shard_jobs", "task_name", "write_csv", "write_report"]

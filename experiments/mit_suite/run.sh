#!/usr/bin/env bash
# The MIT experiment suite on navlnn: all eleven heads x 3 seeds, trained on summer demonstrations
# with the study's recipe, flown on fly_to_target in every scene and on the paper's other tasks
# (occlusion, rotation, hike, loop) in summer and in the hardest out-of-distribution scene, with
# where each head looks measured on every frame (eval.attention=true).
#
#   bash experiments/mit_suite/run.sh                    # all stages; run again to resume
#   STAGES="tasks summary" bash experiments/mit_suite/run.sh
#   EVAL_EPISODES=17 TASK_EPISODES=10 bash experiments/mit_suite/run.sh
#
# It extends the out-of-distribution study's run folder (OUT, by default outputs/ood_seasons, the
# study's first run with the baseline recipe): the same summer data, the same training command, so the six
# heads that study trained are reused and only the five others are trained. Every stage is a
# navlnn command in a fixed folder under $OUT and resumes where it stopped.
#
# Sharded instead of one machine: each evaluation takes shard=i/n, e.g.
#   navlnn eval <the eval stage's arguments> shard=0/4,1/4,2/4,3/4 -m hydra/launcher=submitit_slurm
#   navlnn eval-merge shards=<sweep dir>
# (docs/evaluation.md, "Sharding"); the summary reads the merged folder.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-outputs/ood_seasons}
MODELS=${MODELS:-ncp_cfc,ncp_ltc,cfc,ltc,cfc_mixed,lstm,gru,gru_ode,ctrnn,tcn,cnn}
SEEDS=${SEEDS:-0,1,2}
RECIPE=${RECIPE:-baseline}           # the recipe chosen on summer flights (experiments/ood_recipe/choice.json)
CHECKPOINT=${CHECKPOINT:-best}
SCENES=${SCENES:-[summer,spring,fall,winter,urban,summer+fog,summer+dusk,winter+dusk]}
TASKS=${TASKS:-[occlusion,rotation,hike,loop]}
TASK_SCENES=${TASK_SCENES:-[summer,fall]}   # fall: every head's lowest fly_to_target success in the study
EVAL_EPISODES=${EVAL_EPISODES:-10}   # per checkpoint and scene (30 a cell over 3 seeds)
TASK_EPISODES=${TASK_EPISODES:-6}    # per checkpoint, task and scene (18 a cell over 3 seeds)
ATTENTION_STRESS=${ATTENTION_STRESS:-"{noise: 0.05}"}   # saliency_ssim: the clean frame against it
RESULTS=${RESULTS:-experiments/mit_suite/results}
STAGES=${STAGES:-collect train eval tasks summary}

NAVLNN=${NAVLNN:-navlnn}
PYTHON=${PYTHON:-python}
# shellcheck source=experiments/runs.sh
source experiments/runs.sh     # require_checkpoint_name NAME, run_checkpoints OUT MODELS SEEDS NAME
require_checkpoint_name "$CHECKPOINT"

has() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { echo "[mit_suite] $(date -u +%H:%M:%S) $*"; }
checkpoints() { run_checkpoints "$OUT" "$MODELS" "$SEEDS" "$CHECKPOINT"; }
attention=(eval.attention=true "eval.attention_stress=$ATTENTION_STRESS")

for stage in collect train; do  # the study's own commands, with every head
  if has $stage; then
    OUT=$OUT MODELS=$MODELS SEEDS=$SEEDS RECIPE=$RECIPE NAVLNN=$NAVLNN PYTHON=$PYTHON STAGES=$stage \
      bash experiments/ood_seasons/run.sh
  fi
done
if has eval; then
  T0=$SECONDS
  stamp "eval: fly_to_target in $SCENES x $EVAL_EPISODES episodes per checkpoint, attention measured"
  $NAVLNN eval checkpoint="$(checkpoints)" scenes="$SCENES" tasks=[fly_to_target] episodes="$EVAL_EPISODES" \
    "${attention[@]}" logger.mode=offline progress=false hydra.run.dir="$OUT/suite_eval"
  stamp "eval took $((SECONDS - T0)) s"
fi
if has tasks; then
  T0=$SECONDS
  stamp "tasks: $TASKS in $TASK_SCENES x $TASK_EPISODES episodes per checkpoint, attention measured"
  $NAVLNN eval checkpoint="$(checkpoints)" scenes="$TASK_SCENES" tasks="$TASKS" episodes="$TASK_EPISODES" \
    "${attention[@]}" logger.mode=offline progress=false hydra.run.dir="$OUT/suite_tasks"
  stamp "tasks took $((SECONDS - T0)) s"
fi
if has summary; then
  T0=$SECONDS
  stamp "summary -> $RESULTS"
  tasks=()
  [[ -f "$OUT/suite_tasks/episodes.csv" ]] && tasks=(--tasks suite_tasks)
  $PYTHON experiments/ood_seasons/summarize.py "$OUT" "$RESULTS" --eval suite_eval "${tasks[@]}" \
    --ablations "" --videos "" \
    --title "The MIT suite: eleven heads trained in summer, flown everywhere, attention measured"
  stamp "summary took $((SECONDS - T0)) s"
fi
stamp "done in $((SECONDS / 60)) min"

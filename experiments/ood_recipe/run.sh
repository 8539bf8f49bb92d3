#!/usr/bin/env bash
# The robust-recipe ablation: each lever of the summer-only recipe on its own (and all together),
# for ncp_cfc and lstm, chosen on summer validation flights (held-out layouts) BEFORE the
# out-of-distribution test, then flown in summer and every shifted condition.
#
#   bash experiments/ood_recipe/run.sh                          # all stages; run again to resume
#   STAGES="ood summary" bash experiments/ood_recipe/run.sh     # later stages only
#   ARMS="baseline photometric" HEADS=ncp_cfc bash experiments/ood_recipe/run.sh
#
# Stages (each a navlnn command, or the protocol script, in a fixed folder under $OUT):
#   collect     summer expert data per data variant of the arms (recipes with equal `collect` share it)
#   train       every arm x head x seed (navlnn train, or navlnn dagger for arms with DAgger rounds)
#   validation  summer only (the tasks of VAL_TASKS), env seeds from VAL_SEED (checked disjoint from the test
#               and the training data), best.pt and last.pt of every run
#   choose      per head the arm and checkpoint with the best summer validation -> $RESULTS/choice.json
#   ood         (refuses without choice.json) the chosen checkpoint of every arm x head in $OOD_SCENES at
#               TEST_SEED (navlnn eval's default seed 0), one folder per arm
#   summary     tables with Wilson intervals, differences to baseline, charts -> $RESULTS
# An arm is a recipe of conf/recipe/ (baseline, photometric, geometric, erasing, data, seq64, long,
# regularised, dagger, robust). Training sees summer images only.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-outputs/ood_recipe}
RESULTS=${RESULTS:-experiments/ood_recipe/results}
ARMS=${ARMS:-baseline photometric colour geometric erasing data seq64 long regularised dagger combined robust}   # simplest first
HEADS=${HEADS:-ncp_cfc,lstm}
SEEDS=${SEEDS:-0}                    # training seeds per arm and head
EPISODES=${EPISODES:-100}            # summer demonstrations of an arm whose recipe does not set collect.episodes
EPOCHS=${EPOCHS:-8}                  # epochs of an arm whose recipe does not set train.epochs
STRIDE=${STRIDE:-16}
VAL_SEED=${VAL_SEED:-1}              # summer validation layouts: navlnn eval seed=VAL_SEED (never the test's)
VAL_EPISODES=${VAL_EPISODES:-30}     # per checkpoint and validation task
VAL_TASKS=${VAL_TASKS:-[fly_to_target]}   # summer tasks of the validation; the choice pools their success
TEST_SEED=${TEST_SEED:-0}            # the test: navlnn eval's default seed
OOD_EPISODES=${OOD_EPISODES:-30}     # per checkpoint and condition (>= 30 for the ablation)
OOD_SCENES=${OOD_SCENES:-[summer,fall,spring,winter,urban,summer+fog,summer+dusk,winter+dusk,urban+fog]}
WORKERS=${WORKERS:-2}
COLLECT_EXTRA=${COLLECT_EXTRA:-}     # overrides appended to every collect (they win), e.g. a small camera
TRAIN_EXTRA=${TRAIN_EXTRA:-}         # overrides appended to every train / dagger
DAGGER_EXTRA=${DAGGER_EXTRA:-}       # overrides appended to every dagger, e.g. "rounds=1 episodes_per_round=2"
EVAL_EXTRA=${EVAL_EXTRA:-}           # overrides appended to every eval
STAGES=${STAGES:-collect train validation choose ood summary}

NAVLNN=${NAVLNN:-navlnn}
PYTHON=${PYTHON:-python}

has() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { echo "[ood_recipe] $(date -u +%H:%M:%S) $*"; }
arms_csv() { echo "${ARMS// /,}"; }
# shellcheck source=experiments/recipe.sh
source experiments/recipe.sh   # recipe ARM STAGE, read_overrides VAR ARM STAGE

if has collect; then
  seen=" "
  for arm in $ARMS; do
    tag=$(recipe "$arm" data_tag)
    [[ "$seen" == *" $tag "* ]] && continue
    seen+="$tag "
    read_overrides over "$arm" collect
    stamp "collect: data variant $tag (arm $arm)"
    # shellcheck disable=SC2086
    $NAVLNN collect scene=summer task=fly_to_target episodes="$EPISODES" seed=0 "${over[@]}" workers="$WORKERS" \
      data="$OUT/data/$tag/data" progress=false $COLLECT_EXTRA hydra.run.dir="$OUT/data/$tag"
  done
fi
if has train; then
  for arm in $ARMS; do
    data="$OUT/data/$(recipe "$arm" data_tag)/data"
    rounds=$(recipe "$arm" rounds)
    if [[ "$rounds" != 0 && " $DAGGER_EXTRA " =~ \ rounds=([0-9]+)\  ]]; then rounds=${BASH_REMATCH[1]}; fi
    if [[ "$rounds" == 0 ]]; then
      read_overrides over "$arm" train
      stamp "train: arm $arm, heads $HEADS x seeds $SEEDS"
      # shellcheck disable=SC2086
      $NAVLNN train -m data="$data" model="$HEADS" seed="$SEEDS" train.epochs="$EPOCHS" train.stride="$STRIDE" \
        "${over[@]}" logger.mode=offline progress=false $TRAIN_EXTRA hydra.sweep.dir="$OUT/train/$arm"
    else
      read_overrides over "$arm" dagger
      for head in ${HEADS//,/ }; do for seed in ${SEEDS//,/ }; do
        stamp "dagger: arm $arm, $head seed $seed, $rounds rounds"
        # shellcheck disable=SC2086
        $NAVLNN dagger data="$data" model="$head" seed="$seed" train.epochs="$EPOCHS" train.stride="$STRIDE" \
          "${over[@]}" workers="$WORKERS" logger.mode=offline progress=false $TRAIN_EXTRA $DAGGER_EXTRA \
          hydra.run.dir="$OUT/train/$arm/$head-seed$seed"
      done; done
    fi
  done
fi
if has validation; then
  stamp "validation: summer $VAL_TASKS, seed $VAL_SEED, $VAL_EPISODES episodes per checkpoint and task (layouts checked disjoint)"
  $PYTHON experiments/ood_recipe/protocol.py check-seeds --run "$OUT" --val-seed "$VAL_SEED" \
    --val-episodes "$VAL_EPISODES" --test-seed "$TEST_SEED" --test-episodes "$OOD_EPISODES" --val-tasks "$VAL_TASKS"
  for arm in $ARMS; do
    ckpts=$($PYTHON experiments/ood_recipe/protocol.py checkpoints --run "$OUT" --arms "$arm")
    # shellcheck disable=SC2086
    $NAVLNN eval checkpoint="$ckpts" scenes=[summer] tasks="$VAL_TASKS" seed="$VAL_SEED" \
      episodes="$VAL_EPISODES" eval.reference_expert=false workers="$WORKERS" logger.mode=offline progress=false \
      $EVAL_EXTRA hydra.run.dir="$OUT/validation/$arm"
  done
fi
if has choose; then
  stamp "choose: per head, from summer validation only -> $RESULTS/choice.json"
  $PYTHON experiments/ood_recipe/protocol.py choose --run "$OUT" --choice "$RESULTS/choice.json" \
    --arms "$(arms_csv)" --val-seed "$VAL_SEED" --val-episodes "$VAL_EPISODES" --test-seed "$TEST_SEED" \
    --test-episodes "$OOD_EPISODES" --val-tasks "$VAL_TASKS"
fi
if has ood; then
  for arm in $ARMS; do
    # the gate: stops here unless choice.json was written (and is unchanged since this stage began)
    ckpts=$($PYTHON experiments/ood_recipe/protocol.py require-choice --run "$OUT" --choice "$RESULTS/choice.json" \
      --arm "$arm" --heads "$HEADS" --test-seed "$TEST_SEED")
    stamp "ood: arm $arm in $OOD_SCENES, $OOD_EPISODES episodes per checkpoint and condition"
    # the expert's reference flights (path ratios) are the same for every arm: flown with the first arm only
    reference=false; [[ "$arm" == "${ARMS%% *}" ]] && reference=true
    # shellcheck disable=SC2086
    $NAVLNN eval checkpoint="$ckpts" scenes="$OOD_SCENES" tasks=[fly_to_target] seed="$TEST_SEED" \
      episodes="$OOD_EPISODES" eval.reference_expert="$reference" workers="$WORKERS" logger.mode=offline \
      progress=false $EVAL_EXTRA hydra.run.dir="$OUT/ood/$arm"
  done
fi
if has summary; then
  stamp "summary -> $RESULTS"
  $PYTHON experiments/ood_recipe/summarize.py "$OUT" "$RESULTS" --arms "$(arms_csv)"
fi
stamp done

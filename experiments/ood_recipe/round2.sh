#!/usr/bin/env bash
# Round 2 of the robust-recipe ablation, its settings fixed in this file before it runs.
#
#   bash experiments/ood_recipe/round2.sh                    # all stages; run again to resume
#   STAGES="train" bash experiments/ood_recipe/round2.sh     # one or more stages
#
# Round 1 (experiments/ood_recipe/results/) showed two flaws of its selection: summer
# fly_to_target validation could not separate the recipes (10 of 11 flew 30 of 30, so the
# tie-break chose), and one training seed per arm is noise at the size of the differences. Its test
# layouts (seed 0) have now been seen. Round 2 changes only the selection, the seeds and the test
# layouts:
# - validation, summer only: fly_to_target, occlusion (the sign hidden at the start) and hike
#   (decoys of the sign's colour and shape beside the way), 20 held-out layouts each per checkpoint
#   (VAL_SEED 1); success pooled over the three tasks and the training seeds, then the rule of
#   round 1 (fewer collisions, then the simpler arm, then best.pt);
# - 3 training seeds per arm and head;
# - the test on fresh layouts: TEST_SEED 2, flown by no committed result; 10 flights per
#   checkpoint and condition, 30 a cell over the seeds.
# The arms are round 1's eleven (robust stays out: hours of training on 2 cores); heads, data,
# epochs and the nine test conditions are as in round 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OUT=${OUT:-outputs/ood_recipe_round2}
export RESULTS=${RESULTS:-experiments/ood_recipe/results-round2}
export ARMS="baseline photometric colour geometric erasing data seq64 long regularised dagger combined"
export HEADS=ncp_cfc,lstm SEEDS=0,1,2
export VAL_SEED=1 VAL_TASKS=[fly_to_target,occlusion,hike] VAL_EPISODES=20
export TEST_SEED=2 OOD_EPISODES=10
exec bash experiments/ood_recipe/run.sh

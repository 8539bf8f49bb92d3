#!/usr/bin/env bash
# Round 3 of the robust-recipe ablation, its settings fixed in this file before it runs.
#
#   bash experiments/ood_recipe/round3.sh                    # all stages; run again to resume
#   STAGES="ood summary" bash experiments/ood_recipe/round3.sh
#
# Round 2 (experiments/ood_recipe/results-round2/) chose `data` on summer validation; its test showed
# `ncp_cfc` with `data` at 87-100 % in seven shifted conditions but 47 % in fall, and photometric
# augmentation and random erasing each lifting `ncp_cfc` in fall by about 20 points (as in round 1).
# Round 3 adds one arm that puts those together: data_photometric_erasing (conf/recipe/). It was
# proposed after round 2's test, so it is not a blind pick; what protects the result is the rest of
# the protocol, unchanged:
# - the choice, per head, among round 2's eleven arms and the new one, on round 2's summer
#   validation (fly_to_target, occlusion, hike; VAL_SEED 1, 20 layouts each per checkpoint), by
#   round 2's rule, written to choice.json before any test flight;
# - the test on fresh layouts: TEST_SEED 3, flown by no committed result; 10 flights per checkpoint
#   and condition, 30 a cell over the 3 training seeds;
# - tested: the arms chosen, plus baseline, data (round 2's choice), combined (round 2's best on its
#   test) and the new arm, whether chosen or not.
# The new arm is trained for ncp_cfc only (NEW_HEADS): about 4 min a run on 2 cores. Round 2's data,
# runs and validation flights are reused from ROUND2 (hard links) where that folder exists;
# elsewhere run.sh collects, trains and validates them (hours on 2 cores). The stages: round.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OUT=${OUT:-outputs/ood_recipe_round3}
export RESULTS=${RESULTS:-experiments/ood_recipe/results-round3}
export PREVIOUS=${ROUND2:-outputs/ood_recipe_round2}
export PREVIOUS_ARMS="baseline photometric colour geometric erasing data seq64 long regularised dagger combined"
export NEW_ARM=data_photometric_erasing
export NEW_HEADS=${NEW_HEADS:-ncp_cfc}
export TESTED=${TESTED:-baseline data combined $NEW_ARM}
export SEEDS=0,1,2 VAL_SEED=1 VAL_TASKS=[fly_to_target,occlusion,hike] VAL_EPISODES=20
export TEST_SEED=3 OOD_EPISODES=10
export ROUND=round3
exec bash experiments/ood_recipe/round.sh

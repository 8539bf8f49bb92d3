#!/usr/bin/env bash
# Round 4 of the robust-recipe ablation, its settings fixed in this file before its choice and test.
#
#   bash experiments/ood_recipe/round4.sh                    # all stages; run again to resume
#   STAGES="ood summary" bash experiments/ood_recipe/round4.sh
#
# Round 3 (experiments/ood_recipe/results-round3/) chose `data` again; its new arm,
# data_photometric_erasing, lost one seed of three to a run that never learned (validation loss at
# the constant-action loss; its trunk features grew to |f| ~ 100 and saturated the controller's
# inputs). Round 4 adds one arm, data_photometric_erasing_norm (conf/recipe/): the same recipe with a
# LayerNorm on the trunk's features before the cell (model.head.input_norm, as the dense LTC has).
# Its three ncp_cfc runs were trained and flown on the summer validation once before this file was
# written (as a probe of the training failure: every seed learned), so its validation figure was
# seen; no test flight of it was. It was proposed after round 3's test. What protects the result:
# - the choice, per head, among round 3's twelve arms and the new one, on the same summer validation
#   (fly_to_target, occlusion, hike; VAL_SEED 1, 20 layouts each per checkpoint), by the same rule,
#   written to choice.json before any test flight;
# - the test on fresh layouts: TEST_SEED 4, flown by no committed result; 10 flights per checkpoint
#   and condition, 30 a cell over the 3 training seeds;
# - tested: ncp_cfc only (the head of the targets; lstm's choice is round 3's and round 3 tested it),
#   the arm chosen, plus baseline, data (rounds 2 and 3's choice), combined (best on both earlier
#   tests) and the new arm, whether chosen or not.
# The new arm trains for ncp_cfc only (the head of the targets). About 4 min a run on 2 cores;
# round 3's data, runs and validation flights are reused from ROUND3 (hard links). The stages: round.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OUT=${OUT:-outputs/ood_recipe_round4}
export RESULTS=${RESULTS:-experiments/ood_recipe/results-round4}
export PREVIOUS=${ROUND3:-outputs/ood_recipe_round3}
export PREVIOUS_ARMS="baseline photometric colour geometric erasing data seq64 long regularised dagger combined data_photometric_erasing"
export NEW_ARM=data_photometric_erasing_norm
export NEW_HEADS=ncp_cfc
export TESTED=${TESTED:-baseline data combined $NEW_ARM}
export TEST_HEADS=ncp_cfc
export SEEDS=0,1,2 VAL_SEED=1 VAL_TASKS=[fly_to_target,occlusion,hike] VAL_EPISODES=20
export TEST_SEED=4 OOD_EPISODES=10
export ROUND=round4
exec bash experiments/ood_recipe/round.sh

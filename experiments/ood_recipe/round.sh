#!/usr/bin/env bash
# One round of the robust-recipe ablation after round 2: reuse the previous round's folder, train and
# validate the new arm, choose on summer validation (written before any test flight), test on fresh
# layouts, summarise. Its settings come from a round file (round3.sh, round4.sh), fixed before it runs:
#   OUT, RESULTS   this round's run folder and results folder
#   PREVIOUS       the previous round's run folder (data, runs and validation flights reused by hard links)
#   PREVIOUS_ARMS  the arms reused from it; NEW_ARM, NEW_HEADS: the arm this round trains, for these heads
#   TESTED         arms flown on the test besides the chosen ones; TEST_HEADS: the heads flown
#   TEST_SEED, OOD_EPISODES, VAL_SEED, VAL_TASKS, VAL_EPISODES, SEEDS: as in run.sh
#   STAGES         reuse train validation choose ood summary (run again to resume)
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${OUT:?}" "${RESULTS:?}" "${PREVIOUS:?}" "${PREVIOUS_ARMS:?}" "${NEW_ARM:?}" "${TEST_SEED:?}"
export OUT RESULTS TEST_SEED
NEW_HEADS=${NEW_HEADS:-ncp_cfc}
TESTED=${TESTED:-baseline $NEW_ARM}
TEST_HEADS=${TEST_HEADS:-ncp_cfc,lstm}
STAGES=${STAGES:-reuse train validation choose ood summary}
PYTHON=${PYTHON:-python}
ROUND=${ROUND:-round}
export PYTHON

has() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { echo "[$ROUND] $(date -u +%H:%M:%S) $*"; }
study() { ARMS="$1" HEADS="$2" STAGES="$3" bash experiments/ood_recipe/run.sh; }

if has reuse && [[ -d "$PREVIOUS" ]]; then
  stamp "reuse: data, runs and validation flights from $PREVIOUS (hard links)"
  mkdir -p "$OUT/data" "$OUT/train" "$OUT/validation"
  for tag in "$PREVIOUS"/data/*/; do
    [[ -e "$OUT/data/$(basename "$tag")" ]] || cp -al "$tag" "$OUT/data/"
  done
  for arm in $PREVIOUS_ARMS; do
    for part in train validation; do
      [[ -e "$OUT/$part/$arm" || ! -d "$PREVIOUS/$part/$arm" ]] || cp -al "$PREVIOUS/$part/$arm" "$OUT/$part/"
    done
  done
fi
if has train; then
  for arm in $PREVIOUS_ARMS; do   # only where nothing was reused
    [[ -f "$OUT/validation/$arm/episodes.csv" ]] || study "$arm" ncp_cfc,lstm "collect train"
  done
  study "$NEW_ARM" "$NEW_HEADS" "collect train"
fi
if has validation; then
  for arm in $PREVIOUS_ARMS; do
    [[ -f "$OUT/validation/$arm/episodes.csv" ]] || study "$arm" ncp_cfc,lstm validation
  done
  study "$NEW_ARM" "$NEW_HEADS" validation
fi
if has choose; then
  study "$PREVIOUS_ARMS $NEW_ARM" ncp_cfc,lstm choose
fi
if [[ " $STAGES " == *" ood "* || " $STAGES " == *" summary "* ]]; then
  chosen=$($PYTHON -c "import json,sys; c=json.load(open(sys.argv[1])); h=sys.argv[2].split(','); print(' '.join(sorted({v['arm'] for k, v in c['per_head'].items() if k in h})))" "$RESULTS/choice.json" "$TEST_HEADS")
  for arm in $chosen; do [[ " $TESTED " == *" $arm "* ]] || TESTED="$TESTED $arm"; done
  has ood && study "$TESTED" "$TEST_HEADS" ood
  has summary && study "$TESTED" "$TEST_HEADS" summary
fi
stamp done

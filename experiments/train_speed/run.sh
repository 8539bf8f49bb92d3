#!/usr/bin/env bash
# The fast training preset against the loop before it, on the recipe protocol's summer validation.
#
#   bash experiments/train_speed/run.sh            # all stages; run again to resume
#   STAGES="validation compare" bash experiments/train_speed/run.sh
#
# Both arms train ncp_cfc on the study's data (round 4's recipe, 300 summer demonstrations, 8 epochs,
# windows of 32 every 16 frames: experiments/ood_seasons/run.sh's training) with seeds 0-2:
#   previous  train.segment_windows=1 train.augment_impl=reference train.channels_last=false: the loop before the fast one,
#             bit for bit (tested against that revision: tensor-equal checkpoints);
#   fast      the fast preset (FAST, below).
# Each best.pt flies the recipe protocol's summer validation (fly_to_target, occlusion, hike; env
# seed 1, 20 layouts each: the layouts round 4 chose on, disjoint from the training data); no test
# scene is flown. compare.py pairs the arms by training seed and layout.
# Training runs one at a time, so the wall times are those of one run on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-outputs/train_speed}
DATA=${DATA:-outputs/ood_seasons_data_photometric_erasing_norm/data}   # experiments/ood_seasons/run.sh STAGES=collect
RESULTS=${RESULTS:-experiments/train_speed/results}
SEEDS=${SEEDS:-0 1 2}
ARMS=${ARMS:-previous fast}
FAST=${FAST:-train.segment_windows=4 train.channels_last=true}
PREVIOUS="train.segment_windows=1 train.augment_impl=reference train.channels_last=false"
VAL_TASKS=[fly_to_target,occlusion,hike]
VAL_SEED=1
VAL_EPISODES=${VAL_EPISODES:-20}
WORKERS=${WORKERS:-2}
STAGES=${STAGES:-train validation compare}
NAVLNN=${NAVLNN:-navlnn}
PYTHON=${PYTHON:-python}

has() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { echo "[train_speed] $(date -u +%H:%M:%S) $*"; }
[[ -f "$DATA/manifest.json" ]] || { echo "no dataset at DATA=$DATA; collect it with: STAGES=collect bash experiments/ood_seasons/run.sh" >&2; exit 2; }
mapfile -t RECIPE < <($PYTHON -m navlnn.training.recipe data_photometric_erasing_norm train)

if has train; then
  for arm in $ARMS; do
    if [[ $arm == previous ]]; then extra=$PREVIOUS; else extra=$FAST; fi
    for seed in $SEEDS; do
      run="$OUT/train/$arm/ncp_cfc-seed$seed"
      [[ -f "$run/train_summary.json" ]] && continue
      stamp "train $arm seed $seed ($extra)"
      T0=$SECONDS
      # shellcheck disable=SC2086
      $NAVLNN train data="$DATA" model=ncp_cfc seed="$seed" train.epochs=8 train.stride=16 "${RECIPE[@]}" $extra \
        logger.mode=disabled progress=false hydra.run.dir="$run"
      echo $((SECONDS - T0)) > "$run/wall_seconds"
      stamp "train $arm seed $seed took $((SECONDS - T0)) s"
    done
  done
fi
if has validation; then
  for arm in $ARMS; do
    [[ -f "$OUT/validation/$arm/episodes.csv" ]] && continue
    ckpts=$(printf "%s," "$OUT"/train/"$arm"/ncp_cfc-seed*/checkpoints/best.pt)
    stamp "validation $arm: summer $VAL_TASKS, seed $VAL_SEED, $VAL_EPISODES layouts each"
    T0=$SECONDS
    $NAVLNN eval checkpoint="[${ckpts%,}]" scenes=[summer] tasks="$VAL_TASKS" seed=$VAL_SEED episodes="$VAL_EPISODES" \
      eval.reference_expert=false workers="$WORKERS" logger.mode=disabled progress=false hydra.run.dir="$OUT/validation/$arm"
    stamp "validation $arm took $((SECONDS - T0)) s"
  done
fi
if has compare; then
  $PYTHON experiments/train_speed/compare.py "$OUT" "$RESULTS" --arms "${ARMS// /,}"
fi

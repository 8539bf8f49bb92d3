#!/usr/bin/env bash
# The out-of-distribution study: every head trained on summer demonstrations (3 seeds),
# flown on fly_to_target in every season, in the city, and in summer with fog and at dusk;
# then fall with summer's ground or summer's crowns, to see which colour change breaks them.
#
#   bash experiments/ood_seasons/run.sh            # all stages; run again to resume
#   STAGES="eval summary" bash experiments/ood_seasons/run.sh
#   EPISODES=200 EVAL_EPISODES=50 OUT=outputs/ood_big bash experiments/ood_seasons/run.sh
#   RECIPE=data bash experiments/ood_seasons/run.sh       # into outputs/ood_seasons_data
#   BEFORE=experiments/ood_seasons/results-data LABELS=data,data_photometric_erasing_norm STAGES=summary bash experiments/ood_seasons/run.sh
#
# RECIPE names a training recipe of conf/recipe/ (default: data_photometric_erasing_norm, round 4's
# choice on summer flights; data was round 2's, baseline the study's first recipe); its collect
# and train overrides are applied;
# recipes with DAgger rounds are refused here: run navlnn dagger per head). CHECKPOINT (best or
# last) is the checkpoint of every run that is flown, e.g. the one chosen on summer validation.
#
# Every stage is a navlnn command in a fixed folder under $OUT, so running the script again
# resumes an interrupted collection, training run or evaluation where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."

RECIPE=${RECIPE:-data_photometric_erasing_norm}   # chosen on summer flights (experiments/ood_recipe/results-round4/choice.json)
OUT=${OUT:-outputs/ood_seasons_$RECIPE}     # one run folder per recipe: a folder is resumed, never mixed
EPISODES=${EPISODES:-100}            # summer expert demonstrations
EPOCHS=${EPOCHS:-8}
STRIDE=${STRIDE:-16}                 # frames between training windows (32 long)
MODELS=${MODELS:-ncp_cfc,ncp_ltc,cfc,lstm,gru,cnn}
SEEDS=${SEEDS:-0,1,2}
SCENES=${SCENES:-[summer,spring,fall,winter,urban,summer+fog,summer+dusk,winter+dusk]}
CHECKPOINT=${CHECKPOINT:-best}       # best | last
EVAL_EPISODES=${EVAL_EPISODES:-17}   # per checkpoint and scene (51 a cell over 3 seeds); the seeds of a model are pooled in the table
ABLATION_EPISODES=${ABLATION_EPISODES:-15}   # per checkpoint, fall colour ablation (the first layouts of the eval)
VIDEO_SCENES=${VIDEO_SCENES:-[summer,winter,urban]}
FALL_EPISODES=${FALL_EPISODES:-3}
RESULTS=${RESULTS:-experiments/ood_seasons/results}
BEFORE=${BEFORE:-}                   # a previous run's results folder, same layouts: before/after tables in RESULTS
LABELS=${LABELS:-before,after}       # the two runs' names there
STAGES=${STAGES:-collect train eval fall_colours video summary}
# summer's colours (conf/scene/summer.yaml), for the fall colour ablation
SUMMER_GROUND='[[86,125,52],[74,112,44],[104,138,60],[92,110,50]]'
SUMMER_BROADLEAF='[[62,128,48],[78,140,52],[52,112,42]]'
SUMMER_BIRCH='[[96,156,62],[110,166,70]]'
SUMMER_BUSHES='[[58,110,44],[70,122,50]]'

NAVLNN=${NAVLNN:-navlnn}
PYTHON=${PYTHON:-python}
# shellcheck source=experiments/recipe.sh
source experiments/recipe.sh   # recipe ARM STAGE, read_overrides VAR ARM STAGE
if [[ "$(recipe "$RECIPE" rounds)" != 0 ]]; then
  echo "RECIPE=$RECIPE has DAgger rounds; this script trains by behaviour cloning only (run navlnn dagger per head)" >&2
  exit 2
fi
# shellcheck source=experiments/runs.sh
source experiments/runs.sh     # require_checkpoint_name NAME, run_checkpoints OUT MODELS SEEDS NAME
require_checkpoint_name "$CHECKPOINT"

has() { [[ " $STAGES " == *" $1 "* ]]; }
TIMES=""
stamp() { echo "[ood_seasons] $(date -u +%H:%M:%S) $*"; }
checkpoints() { run_checkpoints "$OUT" "$MODELS" "$SEEDS" "$CHECKPOINT"; }

if has collect; then
  T0=$SECONDS
  read_overrides over "$RECIPE" collect
  stamp "collect: $EPISODES summer episodes (recipe $RECIPE; its overrides, which win: ${over[*]:-none})"
  $NAVLNN collect scene=summer task=fly_to_target episodes="$EPISODES" seed=0 "${over[@]}" data="$OUT/data" \
    progress=false hydra.run.dir="$OUT/collect"
  stamp "collect took $((SECONDS - T0)) s"
  TIMES+="collect $((SECONDS - T0)) s; "
fi
if has train; then
  T0=$SECONDS
  stamp "train: models $MODELS x seeds $SEEDS (one Hydra multirun, recipe $RECIPE)"
  read_overrides over "$RECIPE" train
  $NAVLNN train -m data="$OUT/data" model="$MODELS" seed="$SEEDS" train.epochs="$EPOCHS" \
    train.stride="$STRIDE" "${over[@]}" logger.mode=offline progress=false hydra.sweep.dir="$OUT/train"
  stamp "train took $((SECONDS - T0)) s"
  TIMES+="train $((SECONDS - T0)) s; "
fi
if has eval; then
  T0=$SECONDS
  stamp "eval: $SCENES x $EVAL_EPISODES episodes per checkpoint"
  $NAVLNN eval checkpoint="$(checkpoints)" scenes="$SCENES" tasks=[fly_to_target] \
    episodes="$EVAL_EPISODES" logger.mode=offline progress=false hydra.run.dir="$OUT/eval"
  stamp "eval took $((SECONDS - T0)) s"
  TIMES+="eval $((SECONDS - T0)) s; "
fi
if has fall_colours; then
  T0=$SECONDS
  # Which of fall's colours breaks the policies? Fall with summer's green ground, and fall with
  # summer's green crowns (layout, light, sky and trunks stay fall's); the eval's first layouts.
  stamp "fall colour ablation: green ground, green crowns"
  $NAVLNN eval checkpoint="$(checkpoints)" scene=fall "scene.ground.colors=$SUMMER_GROUND" \
    +scene.label=fall_green_ground tasks=[fly_to_target] episodes="$ABLATION_EPISODES" eval.reference_expert=false \
    logger.mode=offline progress=false hydra.run.dir="$OUT/eval_fall_green_ground"
  $NAVLNN eval checkpoint="$(checkpoints)" scene=fall "scene.trees.broadleaf=$SUMMER_BROADLEAF" \
    "scene.trees.birch=$SUMMER_BIRCH" "scene.bushes=$SUMMER_BUSHES" +scene.label=fall_green_crowns \
    tasks=[fly_to_target] episodes="$ABLATION_EPISODES" eval.reference_expert=false \
    logger.mode=offline progress=false hydra.run.dir="$OUT/eval_fall_green_crowns"
  stamp "fall_colours took $((SECONDS - T0)) s"
  TIMES+="fall_colours $((SECONDS - T0)) s; "
fi
if has video; then
  T0=$SECONDS
  for m in ncp_cfc lstm; do
    stamp "video: $m seed 0 in $VIDEO_SCENES"
    $NAVLNN video checkpoint="$OUT/train/$m-seed0/checkpoints/$CHECKPOINT.pt" scenes="$VIDEO_SCENES" \
      logger.mode=offline hydra.run.dir="$OUT/video/$m-seed0"
  done
  stamp "video: ncp_cfc seed 0, the first $FALL_EPISODES fall episodes (where the heads fail most)"
  $NAVLNN video checkpoint="$OUT/train/ncp_cfc-seed0/checkpoints/$CHECKPOINT.pt" scenes=[fall] episodes="$FALL_EPISODES" \
    logger.mode=offline hydra.run.dir="$OUT/video/ncp_cfc-seed0-fall"
  stamp "video took $((SECONDS - T0)) s"
  TIMES+="video $((SECONDS - T0)) s; "
fi
if has summary; then
  T0=$SECONDS
  stamp "summary -> $RESULTS"
  $PYTHON experiments/ood_seasons/summarize.py "$OUT" "$RESULTS" ${BEFORE:+--before "$BEFORE" --labels "$LABELS"}
  stamp "summary took $((SECONDS - T0)) s"
  TIMES+="summary $((SECONDS - T0)) s; "
fi
stamp "done in $((SECONDS / 60)) min (stages: ${TIMES:-none run})"

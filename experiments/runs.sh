# Helpers of the study scripts (sourced): which checkpoint of each training run is flown.
#   require_checkpoint_name NAME        exits 2 unless NAME is best or last
#   run_checkpoints OUT MODELS SEEDS NAME   that checkpoint of every <model>-seed<k> run under OUT/train, as a Hydra list

require_checkpoint_name() {
  if [[ "$1" != best && "$1" != last ]]; then
    echo "CHECKPOINT=$1: use best or last" >&2
    exit 2
  fi
}

run_checkpoints() {
  local out=$1 models=$2 seeds=$3 name=$4 list="" m s
  for m in ${models//,/ }; do for s in ${seeds//,/ }; do
    list+="${list:+,}$out/train/$m-seed$s/checkpoints/$name.pt"
  done; done
  echo "[$list]"
}

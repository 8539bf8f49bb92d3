# Shell helpers of the experiment scripts that apply a training recipe (conf/recipe/); sourced,
# with $PYTHON set (the interpreter that has navlnn).
recipe() { $PYTHON -m navlnn.training.recipe "$1" "$2"; }   # recipe ARM STAGE: its overrides, one a line
read_overrides() {  # read_overrides VAR ARM STAGE: the recipe's overrides into array VAR (stops on a bad recipe)
  local text
  text=$(recipe "$2" "$3")
  if [[ -z "$text" ]]; then eval "$1=()"; else mapfile -t "$1" <<< "$text"; fi
}

#!/usr/bin/env bash
# The SumPubMed experiment of docs/results.md: a blockwise model and a DeepPyramidion of the same width and depth,
# both with copy attention, trained for the same wall-clock budget on this CPU, scored (greedy and beam 4) on a fixed
# test subset next to lead-3 and the oracle-length lead. Resumable: run it again after an interruption and it continues where it stopped (each stage
# leaves a marker; training resumes from checkpoint_last.pt with the budget that is left).
#
#   bash scripts/experiments/sumpubmed.sh            # everything (about 2 x MINUTES of CPU, both runs at once)
#   MINUTES=5 TEST_DOCS=20 bash scripts/experiments/sumpubmed.sh   # a smoke run
#
# Big files (prepared data, checkpoints) go to WORK_DIR, outside the repository; what is committed as the result
# (logs, metrics, scores, predictions, curves) goes to RESULTS_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${PYRAMIDION:-$root/build/pyramidion}"
data="${SUMPUBMED_DIR:-$root/../shared/data/sumpubmed}"
work="${WORK_DIR:-$root/../sumpubmed-work}"
results="${RESULTS_DIR:-$root/results/sumpubmed}"
minutes="${MINUTES:-80}"         # wall-clock budget per model, its validations included (training.max_minutes)
threads="${THREADS:-1}"          # intra-op threads per run; the two runs train at the same time
test_docs="${TEST_DOCS:-200}"    # fixed subset: the first N test articles
valid_docs="${VALID_DOCS:-100}"  # validation subset (ROUGE during training)
beams="${BEAMS:-1 4}"            # test decodings: greedy (files ARCH.*) and beam 4 (files ARCH.beam4.*)
no_repeat="${NO_REPEAT_NGRAM:-3}"  # as fairseq's summarization recipes: never repeat a trigram
# --min-len of the test decodings, chosen on the validation subset (greedy, every model): the value with the best
# mean ROUGE-2 over the models (the paper decodes with --min-len 72). MIN_LEN=N skips the choice.
min_lens="${MIN_LENS:-1 60 100 150 200}"
# ARCHS: the models to train and score here (both by default). Naming one reruns it after its config changed while
# the other's committed results stay; its WORK_DIR needs the other's checkpoint directory for the curves.
read -r -a archs <<< "${ARCHS:-blockwise deep-pyramidion}"

[ -x "$bin" ] || { echo "sumpubmed: $bin not built (bash scripts/build.sh)" >&2; exit 1; }
[ -f "$data/train.jsonl.xz" ] || { echo "sumpubmed: $data/train.jsonl.xz missing" >&2; exit 1; }
mkdir -p "$work" "$results"
log() { echo "[sumpubmed $(date -u +%H:%M:%S)] $*" >&2; }
done_marker() { echo "$work/.done-$1"; }
stage_done() { [ -f "$(done_marker "$1")" ]; }
mark_done() { touch "$(done_marker "$1")"; }

# The first N lines of an xz file (head closing the pipe early is not an error; too few lines is).
first_lines() {
  ( set +o pipefail; xz -dc "$1" | head -n "$2" > "$3" )
  [ "$(wc -l < "$3")" -eq "$2" ] || { echo "sumpubmed: $1 has fewer than $2 lines" >&2; exit 1; }
}

# 1. Tokenizer: unigram, 16k pieces, from the first 4000 training articles (sources and abstracts).
if ! stage_done tokenizer; then
  log "tokenizer"
  "$bin" tokenizer train -i "$data/train.jsonl.xz" --max-documents 4000 --vocab-size 16000 \
    --input-sentence-size 2000000 --train-threads 2 -o "$work/spm.model" 2> "$results/tokenizer.log"
  mark_done tokenizer
fi

# 2. Data: all training articles; the first VALID_DOCS validation and TEST_DOCS test articles.
if ! stage_done data; then
  log "data prepare"
  first_lines "$data/val.jsonl.xz" "$valid_docs" "$work/valid.jsonl"
  first_lines "$data/test.jsonl.xz" "$test_docs" "$work/test.jsonl"
  rm -rf "$work/data"
  "$bin" data prepare --tokenizer "$work/spm.model" --train "$data/train.jsonl.xz" --valid "$work/valid.jsonl" \
    --test "$work/test.jsonl" -o "$work/data" --max-source-length 4096 --max-target-length 512 --threads 2 \
    --no-progress 2> "$results/prepare.log"
  mark_done data
fi

# Waits for the runs PID...; exits with the last failure, naming the stage and its logs ($results/*.LOG.log).
wait_all() {
  local stage="$1" logname="$2" status=0
  shift 2
  for pid in "$@"; do wait "$pid" || status=$?; done
  [ "$status" -eq 0 ] || { log "$stage failed (exit $status); see $results/*.$logname.log"; exit "$status"; }
}

# Seconds already trained by a run (0 before its first checkpoint).
trained_seconds() {
  local last="$work/$1/checkpoint_last.pt"
  [ -f "$last" ] || { echo 0; return; }
  "$bin" info --json "$last" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["training_state"]["training_seconds"]))'
}

# 3. Training: both models at once, THREADS threads each, MINUTES of wall clock each. After an interruption a run
#    continues for MINUTES minus the time it spent in updates so far (checkpoint training_seconds; the time of its
#    earlier validations is not charged again).
if ! stage_done train; then
  pids=()
  for arch in "${archs[@]}"; do
    left=$(( minutes * 60 - $(trained_seconds "$arch") ))
    if [ "$left" -le 30 ]; then log "$arch: budget spent"; continue; fi
    log "train $arch: $left s left of $((minutes * 60)) s"
    "$bin" --threads "$threads" train -c "$root/configs/experiments/sumpubmed-$arch.yaml" --data "$work/data" \
      --save-dir "$work/$arch" --resume --no-progress --set "training.max_minutes=$(python3 -c "print($left/60)")" \
      >> "$results/$arch.train.log" 2>&1 &
    pids+=($!)
  done
  wait_all training train "${pids[@]}"
  for arch in "${archs[@]}"; do cp "$work/$arch/metrics.jsonl" "$results/$arch.metrics.jsonl"; done
  mark_done train
fi

# 4. The decoding's minimum length, chosen on the validation subset (never on the test articles): greedy summaries of
#    the VALID_DOCS articles with each of MIN_LENS for every model; scores in $results/valid-min-len/.
if [ -z "${MIN_LEN:-}" ]; then
  mkdir -p "$results/valid-min-len"
  for arch in blockwise deep-pyramidion; do
    for m in $min_lens; do
      out="$results/valid-min-len/$arch.min$m.rouge.json"
      [ -s "$out" ] && continue
      log "validation: $arch greedy --min-len $m"
      "$bin" --threads "$threads" evaluate -m "$work/$arch/checkpoint_best.pt" --data "$work/valid.jsonl" --json \
        --beam 1 --no-repeat-ngram-size "$no_repeat" --max-len-b 400 --min-len "$m" > "$out.tmp" \
        2> "$results/valid-min-len/$arch.min$m.evaluate.log"
      mv "$out.tmp" "$out"
    done
  done
  MIN_LEN=$(python3 - "$results/valid-min-len" $min_lens <<'PY'
import json, sys
folder, values = sys.argv[1], sys.argv[2:]
def r2(arch, m):
    return json.load(open(f"{folder}/{arch}.min{m}.rouge.json"))["rouge2"]["fmeasure"]["mean"]
rows = [(sum(r2(a, m) for a in ("blockwise", "deep-pyramidion")) / 2, m) for m in values]
with open(f"{folder}/choice.md", "w") as out:
    out.write("| --min-len | blockwise R-2 | deep-pyramidion R-2 | mean |\n|---|---|---|---|\n")
    for mean, m in rows:
        out.write(f"| {m} | {100 * r2('blockwise', m):.2f} | {100 * r2('deep-pyramidion', m):.2f} | {100 * mean:.2f} |\n")
    best = max(rows)[1]
    out.write(f"\nchosen: --min-len {best} (best mean validation ROUGE-2, greedy, {len(values)} values tried)\n")
print(best)
PY
)
fi
log "test decodings with --min-len $MIN_LEN"

# 5. Scores on the test subset: both models (best validation ROUGE-Lsum checkpoint), lead-3, oracle-length lead.
if ! stage_done evaluate; then
  for baseline in lead-3 lead-oracle; do
    log "evaluate $baseline"
    "$bin" evaluate --baseline "$baseline" --data "$work/test.jsonl" --json \
      --predictions "$results/$baseline.predictions.jsonl" > "$results/$baseline.rouge.json" 2> "$results/$baseline.evaluate.log"
  done
  mark_done evaluate
fi
# Both models at once, THREADS threads each (as in training), one decoding after the other.
for beam in $beams; do
  suffix=""
  [ "$beam" = 1 ] || suffix=".beam$beam"
  stage_done "evaluate$suffix-models-min$MIN_LEN" && continue
  pids=()
  for arch in "${archs[@]}"; do
    log "evaluate $arch (beam $beam)"
    "$bin" --threads "$threads" evaluate -m "$work/$arch/checkpoint_best.pt" --data "$work/test.jsonl" --json \
      --beam "$beam" --no-repeat-ngram-size "$no_repeat" --max-len-b 400 --min-len "$MIN_LEN" --predictions \
      "$results/$arch$suffix.predictions.jsonl" > "$results/$arch$suffix.rouge.json" 2> "$results/$arch$suffix.evaluate.log" &
    pids+=($!)
  done
  wait_all evaluation evaluate "${pids[@]}"
  mark_done "evaluate$suffix-models-min$MIN_LEN"
done

# 6. Learning curves, and the highlight view of the first test article when this build has it.
if ! stage_done plot; then
log "plot"
"$bin" plot "$work/blockwise" "$work/deep-pyramidion" --name blockwise --name deep-pyramidion \
  --title "SumPubMed, ${minutes} CPU minutes per model" -o "$results/curves.svg"
"$bin" plot "$work/blockwise" "$work/deep-pyramidion" --name blockwise --name deep-pyramidion \
  --title "SumPubMed, ${minutes} CPU minutes per model" -o "$results/curves.html"
if "$bin" highlight --help > /dev/null 2>&1; then
  "$bin" highlight -m "$work/deep-pyramidion/checkpoint_best.pt" -i "$work/test.jsonl" --document-index 0 \
    -o "$results/highlight-test0.html" --json "$results/highlight-test0.json" 2> "$results/highlight.log" || true
fi
mark_done plot
fi
# Committed logs and pages name files relative to the repository (no machine paths): the data as ../shared/...,
# the work directory as WORK_DIR.
for f in "$results"/*.log "$results"/*.html "$results"/*.json "$results"/valid-min-len/*.log "$results"/valid-min-len/*.json; do
  [ -f "$f" ] || continue
  sed -i -e "s|$work|WORK_DIR|g" -e "s|$root/\.\./|../|g" -e "s|$root/||g" -e "s|$(dirname "$root")/|../|g" "$f"
done
log "done: $results"

#!/usr/bin/env bash
# Data-parallel scaling: one process with update_freq 2 against `--nproc-per-node 2` with update_freq 1 (the same
# global batch), one intra-op thread per process, on the arXiv sample of ../shared. Prints updates/s and the
# all-reduce share and time per update from each run's metrics.jsonl (docs/benchmarks.md).
#   [DEVICE=cpu|cuda] [NPROC=2] scripts/bench_distributed.sh [BUILD_DIR] [UPDATES] [D_MODEL]
# (DEVICE=cuda: NCCL, one process per GPU; NPROC = the GPU count)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
updates="${2:-60}"
d_model="${3:-128}"
device="${DEVICE:-cpu}"
nproc="${NPROC:-2}"
bin="$build/pyramidion"
sample="${PYRAMIDION_SHARED_DIR:-$root/../shared}/data/cohan-sample/arxiv"
work="$(mktemp -d /tmp/pyramidion-bench-dist.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$bin" --threads 1 tokenizer train --input "$sample/train.txt" --vocab-size 1000 --train-threads 1 \
  --output "$work/spm.model" 2>/dev/null
"$bin" --threads 1 data prepare --tokenizer "$work/spm.model" --train "$sample/train.txt" --valid "$sample/val.txt" \
  --output "$work/data" --max-source-length 512 --max-target-length 64 --threads 1 --no-progress 2>/dev/null
cat > "$work/run.yaml" <<YAML
model:
  d_model: $d_model
  attention_heads: 4
  ffn_dim: $((4 * d_model))
  encoder_layers: 2
  decoder_layers: 2
  dropout: 0.1
  max_source_positions: 512
  max_target_positions: 64
  chunk_size: 128
  pooling: {0: 256, 1: 64}
training:
  max_tokens: 2048
  warmup_updates: 10
  log_interval: 10
  validate_interval: 0
  validate_at_end: false
  device: $device
  threads: 1
  seed: 3
YAML
summarize() {  # the mean of the records after the first (warm-up) interval
  python3 - "$1" "$2" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"train"' in l][1:]
ups = sum(r["updates_per_s"] for r in records) / len(records)
share = sum(r.get("allreduce_share", 0.0) for r in records) / len(records)
print(f"| {sys.argv[2]} | {ups:.2f} | {100 * share:.1f}% | {1000 * share / ups:.1f} |")
PY
}
echo "params: $("$bin" describe -c "$work/run.yaml" 2>/dev/null | grep -i -m1 'parameters' || true)"
/usr/bin/time -f "1 process: %e s" "$bin" --threads 1 train -c "$work/run.yaml" --data "$work/data" --save-dir "$work/one" \
  --no-progress --set training.update_freq="$nproc" --set training.max_updates="$updates" 2>"$work/one.log" || { cat "$work/one.log"; exit 1; }
/usr/bin/time -f "$nproc processes: %e s" "$bin" --threads 1 train -c "$work/run.yaml" --data "$work/data" --save-dir "$work/two" \
  --no-progress --nproc-per-node "$nproc" --set training.max_updates="$updates" 2>"$work/two.log" || { cat "$work/two.log"; exit 1; }
tail -n1 "$work/one.log"; tail -n1 "$work/two.log"
echo "| processes x threads | updates/s | all-reduce share of step | all-reduce ms per update |"
echo "|---|---|---|---|"
summarize "$work/one" "1 x 1 (update_freq $nproc)"
summarize "$work/two" "$nproc x 1 (update_freq 1)"
grep -m2 "world $nproc" "$work/two.log" || true

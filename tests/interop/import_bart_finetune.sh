#!/usr/bin/env bash
# The BART recipe of docs/pretrained.md end to end with the CLI, on a tiny random-weight BART whose byte-level BPE
# tokenizer.json is learned here (tests/interop/hf_reference.py --bpe-text): import with long-input conversion ->
# `data prepare --tokenizer tokenizer.json --source-bos --target-bos` on a few arXiv documents -> `train --init-from`
# (the training loss must fall) -> `summarize` gives text for every test document (the forced <s> dropped). On the
# way: data prepared without BART's framing, and --source-sep, are refused with one line.
# Prints "bart finetune ok" on success.
# Usage: import_bart_finetune.sh BUILD_DIR SOURCE_DIR [SHARED_DIR]
set -euo pipefail
build=$1 source=$2 shared=${3:-$2/../shared}
bin=$build/pyramidion
python=/usr/bin/python3
samples=$shared/data/cohan-sample/arxiv
if ! $python -c 'import torch, numpy' 2>/dev/null; then echo "skipped: $python without torch and numpy"; echo "bart finetune ok"; exit 0; fi
if [ ! -d "$samples" ]; then echo "skipped: no $samples"; echo "bart finetune ok"; exit 0; fi
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
pyr() { $bin --threads 1 "$@"; }
# Expects a command to fail with a message containing $1 (one line).
refused() {
  local want=$1; shift
  if "$@" >"$w/out" 2>"$w/err"; then echo "accepted: $*"; exit 1; fi
  grep -qF -- "$want" "$w/err" || { echo "expected '$want' in:"; cat "$w/err"; exit 1; }
  echo "refused as expected: $(tail -n 1 "$w/err")"
}

head -n 16 "$samples/train.txt" > "$w/train.txt"
head -n 2 "$samples/val.txt" > "$w/val.txt"
head -n 2 "$samples/test.txt" > "$w/test.txt"
# 1. the checkpoint folder: config.json, model.safetensors, tokenizer.json (vocab_size = the tokenizer's)
$python "$source/tests/interop/hf_reference.py" make --arch bart --format safetensors --out "$w/bart" \
    --bpe-text "$w/train.txt" --bpe-merges 60
# 2. import and convert: 4x the positions, blocks of 64, a pooling layer
pyr import --from hf "$w/bart" -o "$w/imported.pt" --max-source-positions 256 --chunk-size 64 --pooling "{0: 96}"
pyr info "$w/imported.pt" --json > "$w/info.json"
$python - "$w/info.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
c = info["config"]
assert c["source_bos"] is True and c["target_bos"] is True, c
assert info["tokenizer"]["kind"] == "byte_level_bpe", info["tokenizer"]
PY
# 3. the data, tokenized with the checkpoint's tokenizer.json and framed as BART reads and writes
prepare=(data prepare --tokenizer "$w/bart/tokenizer.json" --train "$w/train.txt" --valid "$w/val.txt"
         --test "$w/test.txt" --max-source-length 256 --max-target-length 64 --no-progress)
pyr "${prepare[@]}" --output "$w/prepared" --source-bos --target-bos
refused "--source-sep needs a <sep> piece" pyr "${prepare[@]}" --output "$w/prepared-sep" --source-sep
pyr "${prepare[@]}" --output "$w/prepared-plain"
# 4. fine-tune: the run's model: section is the imported one, with a short training: section
$python - "$w/info.json" > "$w/run.yaml" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))["config"]
config["dropout"] = 0.0
training = {"max_tokens": 2048, "lr": 2e-3, "warmup_updates": 4, "clip_norm": 1.0, "max_updates": 30,
            "log_interval": 5, "validate_interval": 30, "valid_subset_size": 2, "valid_beam": 1, "valid_max_len_b": 8}
json.dump({"model": config, "training": training}, sys.stdout)
PY
refused "prepare it again with --source-bos" \
    pyr train -c "$w/run.yaml" --data "$w/prepared-plain" --save-dir "$w/run-plain" --init-from "$w/imported.pt"
# A config without the framing keys follows that data, and then --init-from refuses the BART weights.
$python -c 'import json, sys; r = json.load(open(sys.argv[1])); [r["model"].pop(k) for k in ("source_bos", "target_bos")]
json.dump(r, sys.stdout)' "$w/run.yaml" > "$w/run-unframed.yaml"
refused "imported.pt: model.source_bos is true there but false in this run" \
    pyr train -c "$w/run-unframed.yaml" --data "$w/prepared-plain" --save-dir "$w/run-plain" --init-from "$w/imported.pt"
pyr train -c "$w/run.yaml" --data "$w/prepared" --save-dir "$w/run" --init-from "$w/imported.pt"
$python - "$w/run/metrics.jsonl" <<'PY'
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "train"]
print("training losses:", " ".join(f"{x:.3f}" for x in losses))
assert len(losses) >= 4, losses
assert losses[-1] < losses[0] - 0.5, f"the loss did not fall: {losses[0]:.3f} -> {losses[-1]:.3f}"
PY
# 5. summarize: text for every document (generation forces <s> first; the text drops it)
pyr summarize -m "$w/run/checkpoint_last.pt" -i "$w/test.txt" -o "$w/summaries.jsonl" --beam 2 --nbest 2 \
    --min-len 6 --max-len-b 24
$python - "$w/summaries.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert len(rows) == 2, rows
for row in rows:
    assert row["summary"].strip(), row
    assert not row["summary"].startswith("<s>"), row
    print("summary:", row["summary"][:80].replace("\n", " | "))
PY
echo "bart finetune ok"

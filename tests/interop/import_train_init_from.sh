#!/usr/bin/env bash
# import -> train --init-from, end to end with the CLI: an offline PEGASUS-layout checkpoint (random weights, the
# vocabulary and special ids of a SentencePiece model trained here, shipped as spiece.model) is imported with
# long-input conversion (longer input, blockwise attention, a pooling layer), fine-tuned with `train --init-from`,
# and its training loss must fall. Prints "import train ok" on success.
# Usage: import_train_init_from.sh BUILD_DIR SOURCE_DIR [SHARED_DIR]
set -euo pipefail
build=$1 source=$2 shared=${3:-$2/../shared}
bin=$build/pyramidion
python=/usr/bin/python3
samples=$shared/data/cohan-sample/arxiv
if ! $python -c 'import torch, numpy' 2>/dev/null; then echo "skipped: $python without torch and numpy"; echo "import train ok"; exit 0; fi
if [ ! -d "$samples" ]; then echo "skipped: no $samples"; echo "import train ok"; exit 0; fi
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

$bin --threads 1 tokenizer train --input "$samples/train.txt" --vocab-size 300 --output "$w/spm.model"
$python "$source/tests/interop/hf_reference.py" make --arch pegasus --format safetensors --out "$w/hf" \
    --vocab-size 300 --pad-id 0 --bos-id 2 --eos-id 3 --spiece "$w/spm.model"
$bin --threads 1 import --from hf "$w/hf" -o "$w/imported.pt" --max-source-positions 256 --chunk-size 64 --pooling "{0: 64}"
$bin --threads 1 data prepare --tokenizer "$w/spm.model" --train "$samples/train.txt" --valid "$samples/val.txt" \
    --test "$samples/test.txt" --output "$w/prepared" --max-source-length 256 --max-target-length 64
# The run's model: section is the imported model's (as `info --json` prints it), with a short training: section.
$bin info "$w/imported.pt" --json | $python -c '
import json, sys
config = json.load(sys.stdin)["config"]
config["dropout"] = 0.0
training = {"max_tokens": 2048, "lr": 1e-3, "warmup_updates": 4, "clip_norm": 1.0, "max_updates": 40,
            "log_interval": 5, "validate_interval": 1000, "valid_subset_size": 2, "valid_beam": 1, "valid_max_len_b": 8}
json.dump({"model": config, "training": training}, sys.stdout)' > "$w/run.yaml"
$bin --threads 1 train -c "$w/run.yaml" --data "$w/prepared" --save-dir "$w/run" --init-from "$w/imported.pt"
$python - "$w/run/metrics.jsonl" <<'PY'
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "train"]
print("training losses:", " ".join(f"{x:.3f}" for x in losses))
assert len(losses) >= 4, losses
assert losses[-1] < losses[0] - 0.5, f"the loss did not fall: {losses[0]:.3f} -> {losses[-1]:.3f}"
PY
echo "import train ok"

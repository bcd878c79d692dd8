#!/usr/bin/env python3
"""The tables of docs/results.md from what scripts/experiments/sumpubmed.sh left in its results directory.

    python3 scripts/experiments/sumpubmed_report.py [results/sumpubmed] > /tmp/tables.md

Prints Markdown on stdout: test ROUGE (F1, 95% bootstrap interval) of both models and both lead baselines, the
training statistics of each run (updates, training seconds, updates/s, tokens/s, best validation ROUGE-Lsum), and
the first words of three example summaries next to their references. Reads only committed result files.
"""
import json
import os
import sys

SYSTEMS = [("blockwise", "blockwise"), ("deep-pyramidion", "DeepPyramidion"), ("lead-3", "lead-3"),
           ("lead-oracle", "oracle-length lead")]
MODELS = ["blockwise", "deep-pyramidion"]
METRICS = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
EXAMPLE_WORDS = 70


def existing(results, keys, suffix):
    """(key, path) of each result file KEY + SUFFIX that the script has written."""
    for key in keys:
        path = os.path.join(results, key + suffix)
        if os.path.exists(path):
            yield key, path


def rouge_table(results):
    lines = ["| system | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | documents |", "|---|---|---|---|---|---|"]
    for key, path in existing(results, [k for k, _ in SYSTEMS], ".rouge.json"):
        with open(path) as f:
            try:
                report = json.load(f)  # `evaluate --json`: rouge1..rougeLsum at the top level
            except json.JSONDecodeError:  # still being written (or failed): left out
                continue
        cells = []
        for m in METRICS:
            f1 = report[m]["fmeasure"]
            cells.append(f"{100 * f1['mean']:.2f} [{100 * f1['low']:.2f}, {100 * f1['high']:.2f}]")
        lines.append(f"| {dict(SYSTEMS)[key]} | " + " | ".join(cells) + f" | {report['count']} |")
    return "\n".join(lines)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def training_table(results):
    lines = ["| model | updates | time in updates (of 60 min wall) | updates/s | tokens/s (source + target) | validations | "
             "best valid ROUGE-Lsum (update) | last logged train loss |", "|---|---|---|---|---|---|---|---|"]
    for arch, path in existing(results, MODELS, ".metrics.jsonl"):
        records = read_jsonl(path)
        train = [r for r in records if r.get("kind") == "train"]
        valid = [r for r in records if r.get("kind") == "valid"]
        if not train:
            continue
        # Rates over the logged intervals (each record covers the updates since the previous one).
        previous, interval_seconds, interval_updates, tokens = 0, 0.0, 0, 0.0
        for r in train:
            n = r["update"] - previous
            previous = r["update"]
            seconds = n / r["updates_per_s"]
            interval_seconds += seconds
            interval_updates += n
            tokens += r["tokens_per_s"] * seconds
        seconds = max(r.get("elapsed_s", 0) for r in records)
        updates = max(r.get("update", 0) for r in records)
        best = max((r for r in valid if "rougeLsum" in r), key=lambda r: r["rougeLsum"], default=None)
        best_cell = f"{100 * best['rougeLsum']:.2f} ({best['update']})" if best else "-"
        lines.append(f"| {arch} | {updates} | {seconds / 60:.1f} min | {interval_updates / interval_seconds:.3f} | "
                     f"{tokens / interval_seconds:,.0f} | {len(valid)} | {best_cell} | {train[-1]['loss']:.3f} |")
    return "\n".join(lines)


def words(text, n):
    parts = text.split()
    return " ".join(parts[:n]) + (" …" if len(parts) > n else "")


def output_table(results):
    """Whether a model's summaries depend on the article at all: distinct outputs and their length."""
    lines = ["| system | distinct summaries | mean words | reference mean words |", "|---|---|---|---|"]
    for key, path in existing(results, [k for k, _ in SYSTEMS], ".predictions.jsonl"):
        rows = read_jsonl(path)
        if not rows:
            continue
        distinct = len({r["prediction"] for r in rows})
        mean_words = sum(len(r["prediction"].split()) for r in rows) / len(rows)
        reference_words = sum(len(r["target"].split()) for r in rows) / len(rows)
        lines.append(f"| {dict(SYSTEMS)[key]} | {distinct} of {len(rows)} | {mean_words:.0f} | {reference_words:.0f} |")
    return "\n".join(lines)


def examples(results, count=3):
    predictions = {key: read_jsonl(path) for key, path in existing(results, MODELS + ["lead-3"], ".predictions.jsonl")}
    if "blockwise" not in predictions:
        return ""
    out = []
    for i in range(min(count, len(predictions["blockwise"]))):
        ref = predictions["blockwise"][i]
        out.append(f"**Test article {i}** (`{ref.get('id', i)}`), first {EXAMPLE_WORDS} words of each:\n")
        out.append(f"- *Reference*: {words(ref['target'], EXAMPLE_WORDS)}")
        for key in MODELS + ["lead-3"]:
            if key in predictions and i < len(predictions[key]):
                out.append(f"- *{key}*: {words(predictions[key][i]['prediction'], EXAMPLE_WORDS)}")
        out.append("")
    return "\n".join(out)


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "results",
                                                                  "sumpubmed")
    print("### Test ROUGE (F1 %, mean [95% bootstrap interval])\n")
    print(rouge_table(results))
    print("\n### What the summaries are\n")
    print(output_table(results))
    print("\n### Training\n")
    print(training_table(results))
    print("\n### Examples\n")
    print(examples(results))


if __name__ == "__main__":
    main()

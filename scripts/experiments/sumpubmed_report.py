#!/usr/bin/env python3
"""The tables of docs/results.md from what scripts/experiments/sumpubmed.sh left in its results directory.

    python3 scripts/experiments/sumpubmed_report.py [results/sumpubmed] [--sources TEST.jsonl] > tables.md

Prints Markdown on stdout: test ROUGE (F1, 95% bootstrap interval) of the copy-attention models (greedy and beam 4),
the no-copy baseline (results/sumpubmed/no-copy/) and both lead baselines; what the summaries are (distinct texts,
length, with --sources the share of novel bigrams: how abstractive); the training statistics of each run; validation
ROUGE at equal wall clock; and the first words of three example summaries next to their references. Reads only
result files (and the test articles given with --sources).
"""
import json
import os
import re
import sys

SYSTEMS = [("blockwise", "blockwise + copy, greedy"), ("blockwise.beam4", "blockwise + copy, beam 4"),
           ("deep-pyramidion", "DeepPyramidion + copy + sharpening, greedy"),
           ("deep-pyramidion.beam4", "DeepPyramidion + copy + sharpening, beam 4"),
           ("no-sharpening/deep-pyramidion", "DeepPyramidion + copy, no sharpening (session 11), greedy"),
           ("no-sharpening/deep-pyramidion.beam4", "DeepPyramidion + copy, no sharpening (session 11), beam 4"),
           ("no-copy/blockwise", "blockwise, no copy (session 10), greedy"),
           ("no-copy/deep-pyramidion", "DeepPyramidion, no copy (session 10), greedy"),
           ("lead-3", "lead-3"), ("lead-oracle", "oracle-length lead")]
MODELS = ["blockwise", "deep-pyramidion", "no-sharpening/deep-pyramidion"]
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
    lines = ["| model | updates | time in updates | updates/s | tokens/s (source + target) | validations | "
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


def bigrams(text):
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    return list(zip(tokens, tokens[1:]))


def article_text(row):
    """The article of a Cohan-layout JSONL row (`article_text`: a list of sentences) as one string."""
    text = row.get("article_text", row.get("article", ""))
    return " ".join(text) if isinstance(text, list) else str(text)


def output_table(results, sources):
    """Whether a model's summaries depend on the article at all: distinct outputs, their length, and (with the test
    articles) the share of summary bigrams that are not in the article (0 = every bigram copied)."""
    articles = None
    if sources:
        articles = [set(bigrams(article_text(r))) for r in read_jsonl(sources)]
    lines = ["| system | distinct summaries | mean words | reference mean words | novel bigrams (reference) |",
             "|---|---|---|---|---|"]
    for key, path in existing(results, [k for k, _ in SYSTEMS], ".predictions.jsonl"):
        rows = read_jsonl(path)
        if not rows:
            continue
        distinct = len({r["prediction"] for r in rows})
        mean_words = sum(len(r["prediction"].split()) for r in rows) / len(rows)
        reference_words = sum(len(r["target"].split()) for r in rows) / len(rows)
        novel = "-"
        if articles is not None and len(articles) >= len(rows):
            def share(field):
                total = new = 0
                for r, seen in zip(rows, articles):
                    b = bigrams(r[field])
                    total += len(b)
                    new += sum(1 for x in b if x not in seen)
                return 100 * new / max(1, total)
            novel = f"{share('prediction'):.1f}% ({share('target'):.1f}%)"
        lines.append(f"| {dict(SYSTEMS)[key]} | {distinct} of {len(rows)} | {mean_words:.0f} | {reference_words:.0f} | "
                     f"{novel} |")
    return "\n".join(lines)


def equal_time_table(results, marks=(20, 40, 60, 80)):
    """Validation ROUGE of both models at the same minutes of training (metrics.jsonl's elapsed_s: the time in
    updates, validations not counted; the last validation before each mark)."""
    curves = {arch: [r for r in read_jsonl(path) if r.get("kind") == "valid" and "rouge2" in r]
              for arch, path in existing(results, MODELS, ".metrics.jsonl")}
    if not curves:
        return ""
    lines = ["| training minutes | " + " | ".join(f"{a}: update, valid R-1 / R-2 / R-Lsum" for a in curves) + " |",
             "|---|" + "---|" * len(curves)]
    for minutes in marks:
        cells = []
        for arch, valid in curves.items():
            before = [r for r in valid if r["elapsed_s"] <= minutes * 60]
            if not before:
                cells.append("-")
                continue
            r = before[-1]
            cells.append(f"{r['update']}: {100 * r['rouge1']:.2f} / {100 * r['rouge2']:.2f} / {100 * r['rougeLsum']:.2f}")
        lines.append(f"| {minutes} min | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def examples(results, count=3):
    predictions = {key: read_jsonl(path) for key, path in existing(results, MODELS + ["lead-3"], ".predictions.jsonl")}
    if not predictions:
        return ""
    first = next(iter(predictions.values()))
    out = []
    for i in range(min(count, len(first))):
        ref = first[i]
        out.append(f"**Test article {i}** (`{ref.get('id', i)}`), first {EXAMPLE_WORDS} words of each:\n")
        out.append(f"- *Reference*: {words(ref['target'], EXAMPLE_WORDS)}")
        for key in MODELS + ["lead-3"]:
            if key in predictions and i < len(predictions[key]):
                out.append(f"- *{key}*: {words(predictions[key][i]['prediction'], EXAMPLE_WORDS)}")
        out.append("")
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    sources = None
    if "--sources" in args:
        i = args.index("--sources")
        sources = args[i + 1]
        del args[i:i + 2]
    results = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..", "results", "sumpubmed")
    print("### Test ROUGE (F1 %, mean [95% bootstrap interval])\n")
    print(rouge_table(results))
    print("\n### What the summaries are\n")
    print(output_table(results, sources))
    print("\n### Training\n")
    print(training_table(results))
    print("\n### Validation ROUGE at equal training time (100 validation articles, greedy, no n-gram blocking)\n")
    print(equal_time_table(results))
    print("\n### Examples\n")
    print(examples(results))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""pyramidion (C++) against the plain eager-PyTorch reference (bench/reference_pytorch.py), side by side.

Both sides run the same architectures (bench/configs/*.yaml), sizes, thread count and LibTorch (Debian's 1.13:
libtorch-dev for the C++ side, python3-torch for the reference). The runs are interleaved: every round runs
each measurement on both sides, one after the other, alternating which side goes first, and the table reports,
per side, the median over rounds of each run's median. Writes a Markdown table on stdout (and --json).

    /usr/bin/python3 bench/compare_reference.py --pyramidion build/pyramidion --rounds 3

The top-k rows: `pyramidion bench topk` as the binary runs it (freed memory kept, keep_freed_memory()), the
same with PYRAMIDION_KEEP_MEMORY=0 (glibc's default malloc settings, what a program linking the library gets)
and the authors' per-example loop in eager PyTorch.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ARCHS = ["vanilla", "blockwise", "pyramidion", "deep-pyramidion"]


def log(msg):
    print(f"compare_reference: {msg}", file=sys.stderr, flush=True)


def run_cpp(a, archs, lengths, kind, beam):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [a.pyramidion, "--threads", str(a.threads), "bench"]
        for arch in archs:
            cmd += ["-c", os.path.join(HERE, "configs", arch + ".yaml")]
        cmd += ["--lengths", ",".join(map(str, lengths)), "--batch", str(a.batch), "--target-length",
                str(a.target_length), "--steps", str(a.steps), "--warmup", str(a.warmup), "--gen-tokens",
                str(a.gen_tokens), "--beam", str(beam), "--gen-batch", str(a.gen_batch), "--json", out.name,
                "--no-inference" if kind == "training" else "--no-training", "--max-seconds", "600",
                "--compute-type", a.compute_types if kind == "generation" else "float32"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            result = json.load(f)
    key = "training" if kind == "training" else "inference"
    return {(p["architecture"], p["length"]): p[key] for p in result["points"]}


def run_reference(a, archs, lengths, kind, beam):
    cmd = [a.python, os.path.join(HERE, "reference_pytorch.py"), "--threads", str(a.threads), "--configs"]
    cmd += [os.path.join(HERE, "configs", arch + ".yaml") for arch in archs]
    cmd += ["--lengths", ",".join(map(str, lengths)), "--batch", str(a.batch), "--target-length",
            str(a.target_length), "--steps", str(a.steps), "--warmup", str(a.warmup), "--gen-tokens",
            str(a.gen_tokens), "--beams", str(beam), "--gen-batch", str(a.gen_batch),
            "--no-inference" if kind == "training" else "--no-training"]
    result = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout)
    return {(p["architecture"], p["length"]): p for p in result["points"]}


def run_topk_cpp(a, keep_memory):
    env = dict(os.environ)
    if not keep_memory:
        env["PYRAMIDION_KEEP_MEMORY"] = "0"
    cmd = [a.pyramidion, "--threads", str(a.threads), "bench", "topk", "--skip-reference", "--skip-quality",
           "--repetitions", str(max(a.steps, 3))]
    text = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return float(re.search(r"fused batched op\s+([0-9.]+) ms", text).group(1)) / 1e3


def run_topk_reference(a):
    cmd = [a.python, os.path.join(HERE, "reference_pytorch.py"), "--threads", str(a.threads), "--topk",
           "--steps", str(a.steps)]
    result = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout)
    return result["points"][0]["median_seconds"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pyramidion", default=os.path.join(HERE, "..", "build", "pyramidion"))
    p.add_argument("--python", default="/usr/bin/python3", help="a Python with torch 1.13 (Debian python3-torch)")
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--lengths", default="2048", help="input lengths of training and generation")
    p.add_argument("--long-training", default="", help="extra training lengths, e.g. 8192 (archs: --long-archs)")
    p.add_argument("--long-archs", default="blockwise,pyramidion,deep-pyramidion")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--target-length", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=32)
    p.add_argument("--gen-batch", type=int, default=2)
    p.add_argument("--beams", default="1,4")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-training", action="store_true")
    p.add_argument("--no-generation", action="store_true")
    p.add_argument("--no-topk", action="store_true")
    p.add_argument("--compute-types", default="float32",
                   help="the C++ side's generation: float32, int8, or float32,int8 (a row each, against the same "
                        "reference run; rows ARCH/int8)")
    p.add_argument("--json", default="")
    a = p.parse_args()
    archs = a.archs.split(",")
    lengths = [int(x) for x in a.lengths.split(",")]
    jobs = []  # (label, kind, beam, archs, lengths)
    if not a.no_training:
        jobs.append(("training", "training", 1, archs, lengths))
        if a.long_training:
            jobs.append(("training", "training", 1, a.long_archs.split(","), [int(x) for x in a.long_training.split(",")]))
    if not a.no_generation:
        for beam in [int(b) for b in a.beams.split(",")]:
            jobs.append((f"generation, beam {beam}", "generation", beam, archs, lengths))
    samples = {"cpp": {}, "torch": {}}  # side -> (label, arch, length) -> [seconds per round]; C++ archs may be ARCH/int8
    topk = {"inside": [], "library": [], "torch": []}
    for r in range(a.rounds):
        for label, kind, beam, job_archs, job_lengths in jobs:
            sides = [("cpp", run_cpp), ("torch", run_reference)]
            if r % 2 == 1:
                sides.reverse()
            for side, fn in sides:
                log(f"round {r + 1}/{a.rounds}: {label} {side}")
                for key, m in fn(a, job_archs, job_lengths, kind, beam).items():
                    if m.get("median_seconds") is not None:
                        samples[side].setdefault((label,) + key, []).append(m["median_seconds"])
        if not a.no_topk:
            log(f"round {r + 1}/{a.rounds}: top-k")
            order = [("inside", lambda: run_topk_cpp(a, True)), ("library", lambda: run_topk_cpp(a, False)),
                     ("torch", lambda: run_topk_reference(a))]
            if r % 2 == 1:
                order.reverse()
            for name, fn in order:
                topk[name].append(fn())

    def fmt_time(seconds):
        return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.3f} s"

    rows = []
    print(f"| measurement | architecture | input | pyramidion (C++) | PyTorch eager | C++ advantage |")
    print("|---|---|---|---|---|---|")
    for (label, arch, length), cpp_seconds in samples["cpp"].items():
        torch_seconds = samples["torch"].get((label, arch.split("/")[0], length))  # ARCH/int8 against ARCH
        if not cpp_seconds or not torch_seconds:
            continue
        cpp, ref = statistics.median(cpp_seconds), statistics.median(torch_seconds)
        rows.append({"measurement": label, "architecture": arch, "length": length, "cpp_seconds": cpp_seconds,
                     "torch_seconds": torch_seconds, "ratio": ref / cpp})
        print(f"| {label} | {arch} | {length} | {fmt_time(cpp)} | {fmt_time(ref)} | {ref / cpp:.2f}x |")
    if topk["torch"]:
        ref = statistics.median(topk["torch"])
        for name, text in (("inside", "SH top-k fwd+bwd (B4 n8192 k512 d512), `pyramidion` binary"),
                           ("library", "same, glibc default malloc (a program linking the library)")):
            cpp = statistics.median(topk[name])
            rows.append({"measurement": text, "cpp_seconds": topk[name], "torch_seconds": topk["torch"],
                         "ratio": ref / cpp})
            print(f"| {text} | - | 8192 | {fmt_time(cpp)} | {fmt_time(ref)} (per-example loop) | {ref / cpp:.2f}x |")
        inside, library = statistics.median(topk["inside"]), statistics.median(topk["library"])
        print(f"\ntop-k, library / binary: {library / inside:.2f}x")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"options": vars(a), "rows": rows, "topk": topk}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()

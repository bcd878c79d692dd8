#!/usr/bin/env python3
"""The successive-halving top-k called from Python (pyramidion.successive_halving_topk, through PyTorch's
dispatcher) against the same op called from C++ in the same process, and against the authors' per-example loop in
plain PyTorch (bench/reference_pytorch.py). Forward + backward, as `pyramidion bench topk` times it. Prints a table
and, with --json, one JSON object. Needs the module on the path (PYTHONPATH=build/python or an install):

    PYTHONPATH=build/python /usr/bin/python3 bench/python_topk.py --threads 1
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

import pyramidion

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_pytorch import successive_halving_topk_loop  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("-n", type=int, default=8192)
    p.add_argument("-k", type=int, default=512)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: PyTorch's default)")
    p.add_argument("--repetitions", type=int, default=7)
    p.add_argument("--loop-repetitions", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    states = torch.randn(args.batch, args.n, args.dim, device=device)
    scores = torch.rand(args.batch, args.n, device=device) + 1e-5
    grad = torch.randn(args.batch, args.k, args.dim, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def python_times(op, repetitions):
        e = states.clone().requires_grad_(True)
        s = scores.clone().requires_grad_(True)
        seconds = []
        for i in range(repetitions + 1):  # the first is warm-up
            sync()
            start = time.perf_counter()
            out_e, out_s = op(e, s, args.k)
            torch.autograd.backward([out_e, out_s], [grad, torch.ones_like(out_s)])
            e.grad = None
            s.grad = None
            sync()
            if i:
                seconds.append(time.perf_counter() - start)
        return seconds

    # Interleaved rounds so that load on a shared machine hits both sides alike.
    cpp, python = [], []
    pyramidion._pyramidion._bench_topk_cpp(states, scores, grad, args.k, 1)  # warm-up
    for _ in range(args.repetitions):
        cpp += pyramidion._pyramidion._bench_topk_cpp(states, scores, grad, args.k, 1)
        python += python_times(pyramidion.successive_halving_topk, 1)
    loop = python_times(successive_halving_topk_loop, args.loop_repetitions)
    result = {
        "shape": {"batch": args.batch, "n": args.n, "k": args.k, "dim": args.dim},
        "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpp_call_ms": 1e3 * statistics.median(cpp),
        "python_call_ms": 1e3 * statistics.median(python),
        "python_loop_ms": 1e3 * statistics.median(loop),
        "cpp_ms_all": [1e3 * t for t in cpp], "python_ms_all": [1e3 * t for t in python],
        "loop_ms_all": [1e3 * t for t in loop],
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"successive-halving top-k forward+backward: batch {args.batch}, n {args.n}, k {args.k}, dim {args.dim}, "
          f"float32 on {device}, {result['threads']} threads, torch {torch.__version__} (median)")
    print(f"  C++ call (same process)            {result['cpp_call_ms']:10.3f} ms")
    print(f"  pyramidion.successive_halving_topk {result['python_call_ms']:10.3f} ms  "
          f"({100 * (result['python_call_ms'] / result['cpp_call_ms'] - 1):+.1f}%)")
    print(f"  per-example PyTorch loop           {result['python_loop_ms']:10.3f} ms  "
          f"({result['python_loop_ms'] / result['python_call_ms']:.1f}x the op)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Plain eager-PyTorch reference of pyramidion's four architectures, for side-by-side speed comparisons.

The same math as the C++ models (include/pyramidion/models/summarization_model.h, nn/*): tied embeddings
scaled by sqrt(d) + fairseq sinusoidal positions, post-norm encoder layers with full or blockwise
self-attention (separate q/k/v/out projections), trainable representation pooling (sigmoid scorer + the
batched successive-halving top-k of src/ops), post-norm decoder layers (causal self-attention,
cross-attention, ReLU FFN), tied output projection. What a competent PyTorch user would write: batched
tensor code, fairseq's "no key mask when nothing is padded", an incremental key/value cache for generation.

Measures, with the options of `pyramidion bench` (docs/benchmarks.md): a training step (forward + cross-entropy
+ backward + AdamW, dropout on) and a generation run (encode + greedy or beam search of exactly --gen-tokens
tokens per document), and, with --topk, the successive-halving top-k forward + backward as the authors'
per-example loop. Prints one JSON object on stdout. Needs Debian's python3-torch (same LibTorch 1.13):
    /usr/bin/python3 bench/reference_pytorch.py --configs bench/configs/*.yaml --lengths 2048 ...
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

PAD, UNK, BOS, EOS = 0, 1, 2, 3
TOPK_PADDING_SCORE = 1e-5


def load_config(path):
    with open(path) as f:
        model = yaml.safe_load(f)["model"]
    pooling = model.get("pooling") or {}
    schedule = pooling.get("schedule", {}) if "schedule" in pooling or "type" in pooling else pooling
    return {
        "name": os.path.splitext(os.path.basename(path))[0],
        "vocab": model.get("vocab_size", 32000),
        "dim": model["d_model"],
        "heads": model["attention_heads"],
        "ffn": model["ffn_dim"],
        "enc_layers": model["encoder_layers"],
        "dec_layers": model["decoder_layers"],
        "dropout": model.get("dropout", 0.1),
        "attention_dropout": model.get("attention_dropout", 0.1),
        "chunk": model.get("chunk_size", 0),
        "schedule": {int(k): int(v) for k, v in (schedule or {}).items()},
    }


def sinusoidal(positions, dim, dtype):
    half = dim // 2
    step = math.log(10000.0) / (half - 1)
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * -step)
    angles = positions.to(torch.float64).unsqueeze(-1) * freq
    return torch.cat([torch.sin(angles), torch.cos(angles)], -1).to(dtype)


def successive_halving_topk(e, s, k, base=20.0):
    """Batched successive-halving top-k (flip_right, sort_back), differentiable through eager autograd.
    e (batch, n, dim), s (batch, n) -> (batch, k, dim), (batch, k)."""
    batch, n, dim = e.shape
    if k >= n:
        return e, s
    rounds = 0
    while (k << rounds) < n:
        rounds += 1
    padded = k << rounds
    if padded > n:
        e = torch.cat([e, e.new_zeros(batch, padded - n, dim)], 1)
        s = torch.cat([s, s.new_full((batch, padded - n), TOPK_PADDING_SCORE)], 1)
    for _ in range(rounds):
        half = e.shape[1] // 2
        order = torch.sort(s.detach(), dim=1, descending=True, stable=True).indices
        first, second = order[:, :half], order[:, half:].flip(1)
        perm = torch.sort(first, dim=1, stable=True).indices
        first, second = first.gather(1, perm), second.gather(1, perm)
        sa, sb = s.gather(1, first), s.gather(1, second)
        w = torch.sigmoid(torch.pow(base, sa) - torch.pow(base, sb))  # softmax over the pair of base^s
        ea = e.gather(1, first.unsqueeze(-1).expand(-1, -1, dim))
        eb = e.gather(1, second.unsqueeze(-1).expand(-1, -1, dim))
        e = torch.lerp(eb, ea, w.unsqueeze(-1))
        s = torch.lerp(sb, sa, w)
    return e, s


def successive_halving_topk_loop(embeddings, scores, k, base=20.0):
    """The authors' algorithm as written: one example at a time (src/ops/successive_halving_topk_reference.cpp)."""
    n = embeddings.shape[1]
    rounds = 0
    while (k << rounds) < n:
        rounds += 1
    out_e, out_s = [], []
    for b in range(embeddings.shape[0]):
        e, s = embeddings[b], scores[b]
        for _ in range(rounds):
            half = e.shape[0] // 2
            order = torch.sort(s.detach(), dim=0, descending=True, stable=True).indices
            top, bottom = order[:half], order[half:].flip(0)
            perm = torch.sort(top, dim=0, stable=True).indices
            top, bottom = top[perm], bottom[perm]
            pair_s = torch.stack([s[top], s[bottom]])
            pair_e = torch.stack([e[top], e[bottom]])
            w = torch.softmax(torch.pow(base, pair_s), 0)
            e = (pair_e * w.unsqueeze(-1)).sum(0)
            s = (pair_s * w).sum(0)
        out_e.append(e)
        out_s.append(s)
    return torch.stack(out_e), torch.stack(out_s)


class Attention(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        for lin in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_uniform_(lin.weight, gain=1 / math.sqrt(2))
            nn.init.zeros_(lin.bias)
        nn.init.xavier_uniform_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def split(self, x):  # (batch, len, dim) -> (batch, heads, len, head_dim)
        return x.view(x.shape[0], x.shape[1], self.heads, self.dim // self.heads).transpose(1, 2)

    def project_kv(self, states):
        return self.split(self.k_proj(states)), self.split(self.v_proj(states))

    def attend(self, query, k, v, key_mask=None, causal=False):
        q = self.split(self.q_proj(query))
        logits = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if key_mask is not None:
            logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        if causal:
            length = logits.shape[-1]
            logits = logits.masked_fill(torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))
        probs = F.dropout(torch.softmax(logits, -1), self.dropout, self.training)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(query.shape[0], query.shape[1], self.dim)
        return self.out_proj(out)

    def forward(self, query, kv, key_mask=None, causal=False):
        k, v = self.project_kv(kv)
        return self.attend(query, k, v, key_mask, causal)


class FeedForward(nn.Module):
    def __init__(self, dim, ffn):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        for lin in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.chunk, self.dropout = c["chunk"], c["dropout"]
        self.self_attn = Attention(c["dim"], c["heads"], c["attention_dropout"])
        self.self_attn_norm, self.ffn_norm = nn.LayerNorm(c["dim"]), nn.LayerNorm(c["dim"])
        self.ffn = FeedForward(c["dim"], c["ffn"])

    def attention(self, x, mask):
        batch, length, dim = x.shape
        block = min(self.chunk, length) if self.chunk > 0 else length
        if block == length:
            return self.self_attn(x, x, mask)
        blocks = -(-length // block)
        padded = blocks * block
        if padded > length or mask is not None:
            mask = mask if mask is not None else x.new_ones(batch, length, dtype=torch.bool)
            x = torch.cat([x, x.new_zeros(batch, padded - length, dim)], 1)
            mask = torch.cat([mask, mask.new_zeros(batch, padded - length)], 1).reshape(batch * blocks, block)
        xb = x.reshape(batch * blocks, block, dim)
        return self.self_attn(xb, xb, mask).reshape(batch, padded, dim)[:, :length]

    def forward(self, x, mask):
        x = self.self_attn_norm(x + F.dropout(self.attention(x, mask), self.dropout, self.training))
        return self.ffn_norm(x + F.dropout(self.ffn(x), self.dropout, self.training))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = c["dropout"]
        self.self_attn = Attention(c["dim"], c["heads"], c["attention_dropout"])
        self.cross_attn = Attention(c["dim"], c["heads"], c["attention_dropout"])
        self.self_attn_norm, self.cross_attn_norm = nn.LayerNorm(c["dim"]), nn.LayerNorm(c["dim"])
        self.ffn, self.ffn_norm = FeedForward(c["dim"], c["ffn"]), nn.LayerNorm(c["dim"])

    def sub(self, x, norm, h):
        return norm(x + F.dropout(h, self.dropout, self.training))

    def forward(self, x, memory, memory_mask):
        x = self.sub(x, self.self_attn_norm, self.self_attn(x, x, None, causal=True))
        x = self.sub(x, self.cross_attn_norm, self.cross_attn(x, memory, memory_mask))
        return self.sub(x, self.ffn_norm, self.ffn(x))

    def step(self, x, cache):
        k, v = self.self_attn.project_kv(x)
        cache["k"] = k if cache.get("k") is None else torch.cat([cache["k"], k], 2)
        cache["v"] = v if cache.get("v") is None else torch.cat([cache["v"], v], 2)
        x = self.sub(x, self.self_attn_norm, self.self_attn.attend(x, cache["k"], cache["v"]))
        x = self.sub(x, self.cross_attn_norm, self.cross_attn.attend(x, cache["ck"], cache["cv"], cache["mask"]))
        return self.sub(x, self.ffn_norm, self.ffn(x))


class SummarizationModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["dim"], padding_idx=PAD)
        with torch.no_grad():
            nn.init.normal_(self.embed.weight, 0.0, c["dim"] ** -0.5)
            self.embed.weight[PAD].zero_()
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c["enc_layers"]))
        self.scorers = nn.ModuleDict({str(i): nn.Linear(c["dim"], 1) for i in c["schedule"]})
        for lin in self.scorers.values():
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c["dec_layers"]))
        self.scale = math.sqrt(c["dim"])

    def encode(self, source, mask):
        # No padding in these runs: positions 1..L for every row (fairseq make_positions), no key mask.
        has_pads = bool((~mask).any())
        positions = torch.cumsum(mask.long(), 1) * mask.long() + PAD
        x = self.embed(source) * self.scale + sinusoidal(positions, self.c["dim"], torch.float32) * mask.unsqueeze(-1)
        x = F.dropout(x, self.c["dropout"], self.training)
        key_mask = mask if has_pads else None
        for i, layer in enumerate(self.encoder):
            x = layer(x, key_mask)
            if i in self.c["schedule"]:
                scores = torch.sigmoid(self.scorers[str(i)](x).squeeze(-1)) + 1e-5
                x, _ = successive_halving_topk(x, scores, self.c["schedule"][i])
                mask = mask[:, : x.shape[1]]
        return x, (mask if has_pads else None)

    def embed_target(self, tokens, first):
        positions = torch.arange(first, first + tokens.shape[1]) + (PAD + 1)
        x = self.embed(tokens) * self.scale + sinusoidal(positions, self.c["dim"], torch.float32).unsqueeze(0)
        return F.dropout(x, self.c["dropout"], self.training)

    def forward(self, source, mask, target_in):
        memory, memory_mask = self.encode(source, mask)
        x = self.embed_target(target_in, 0)
        for layer in self.decoder:
            x = layer(x, memory, memory_mask)
        return torch.matmul(x, self.embed.weight.t())

    def start(self, memory, memory_mask):
        caches = []
        for layer in self.decoder:
            k, v = layer.cross_attn.project_kv(memory)
            caches.append({"ck": k, "cv": v, "mask": memory_mask})
        return caches

    def step(self, tokens, caches, position):
        x = self.embed_target(tokens.unsqueeze(1), position)
        for layer, cache in zip(self.decoder, caches):
            x = layer.step(x, cache)
        return torch.matmul(x, self.embed.weight.t()).squeeze(1)  # (rows, vocab)


def reorder(caches, rows, keys=("k", "v")):
    for cache in caches:
        for key in keys:
            if cache.get(key) is not None:
                cache[key] = cache[key].index_select(0, rows)


def generate(model, source, mask, tokens, beam):
    """Encode + exactly `tokens` tokens per document (EOS and PAD forbidden), greedy or beam search."""
    memory, memory_mask = model.encode(source, mask)
    caches = model.start(memory, memory_mask)
    batch = source.shape[0]
    if beam > 1:
        # Expanded once; the beams of a document share its memory, so only the self-attention cache is
        # reordered per step.
        reorder(caches, torch.arange(batch).repeat_interleave(beam), ("ck", "cv", "mask"))
    rows = batch * beam
    last = torch.full((rows,), BOS, dtype=torch.long)
    scores = torch.zeros(batch, beam, dtype=torch.float64)
    history = []
    for step in range(tokens):
        logits = model.step(last, caches, step)
        logits[:, PAD] = float("-inf")
        logits[:, EOS] = float("-inf")
        if beam == 1:
            last = logits.argmax(-1)
            history.append(last)
            continue
        lprobs = torch.log_softmax(logits, -1).double().view(batch, beam, -1)
        if step == 0:
            lprobs[:, 1:] = float("-inf")
        total = (lprobs + scores.unsqueeze(-1)).view(batch, -1)
        scores, index = total.topk(beam, 1)
        vocab = logits.shape[-1]
        parent = (index // vocab) + torch.arange(batch).unsqueeze(1) * beam
        last = (index % vocab).view(-1)
        history = [h.index_select(0, parent.view(-1)) for h in history] + [last]
        reorder(caches, parent.view(-1))
    return torch.stack(history, 1)


def timed_median(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", nargs="*", default=[])
    p.add_argument("--lengths", default="2048")
    p.add_argument("--training-lengths", default=None, help="lengths for training (default: --lengths)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--target-length", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=32)
    p.add_argument("--gen-batch", type=int, default=2)
    p.add_argument("--beams", default="1")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--no-training", action="store_true")
    p.add_argument("--no-inference", action="store_true")
    p.add_argument("--topk", action="store_true", help="also time the top-k loop at batch 4, n 8192, k 512, dim 512")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "points": []}
    lengths = [int(x) for x in args.lengths.split(",") if x]
    train_lengths = [int(x) for x in (args.training_lengths or args.lengths).split(",") if x]
    for path in args.configs:
        c = load_config(path)
        torch.manual_seed(0)
        model = SummarizationModel(c)
        if not args.no_inference:
            model.eval()
            for beam in [int(b) for b in args.beams.split(",")]:
                for length in lengths:
                    source = torch.randint(4, c["vocab"], (args.gen_batch, length))
                    mask = torch.ones_like(source, dtype=torch.bool)
                    with torch.inference_mode():
                        median, times = timed_median(lambda: generate(model, source, mask, args.gen_tokens, beam),
                                                     args.warmup, args.steps)
                    out["points"].append({"architecture": c["name"], "kind": "generation", "beam": beam,
                                          "length": length, "median_seconds": median, "seconds": times})
        if not args.no_training:
            model.train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
            for length in train_lengths:
                source = torch.randint(4, c["vocab"], (args.batch, length))
                mask = torch.ones_like(source, dtype=torch.bool)
                target = torch.randint(4, c["vocab"], (args.batch, args.target_length + 1))

                def train_step():
                    optimizer.zero_grad(set_to_none=True)
                    logits = model(source, mask, target[:, :-1])
                    loss = F.cross_entropy(logits.float().flatten(0, 1), target[:, 1:].flatten())
                    loss.backward()
                    optimizer.step()

                median, times = timed_median(train_step, args.warmup, args.steps)
                out["points"].append({"architecture": c["name"], "kind": "training", "length": length,
                                      "median_seconds": median, "seconds": times})
        print(f"reference_pytorch: {c['name']} done", file=sys.stderr)
    if args.topk:
        torch.manual_seed(0)
        e = torch.randn(4, 8192, 512, requires_grad=True)
        s = (torch.rand(4, 8192) + 1e-5).requires_grad_(True)
        g = torch.randn(4, 512, 512)

        def topk_step():
            oe, os_ = successive_halving_topk_loop(e, s, 512)
            torch.autograd.backward([oe, os_], [g, torch.ones_like(os_)])
            e.grad = None
            s.grad = None

        median, times = timed_median(topk_step, 1, args.steps)
        out["points"].append({"architecture": "topk", "kind": "topk", "median_seconds": median, "seconds": times})
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()

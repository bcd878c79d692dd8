#!/usr/bin/python3
"""Offline stand-ins for Hugging Face BART / PEGASUS checkpoints, and an independent reference forward.

No network and no `transformers`: this writes checkpoint folders with the exact Hugging Face key layout, shapes,
config.json and file formats (model.safetensors written here from the public format spec, or pytorch_model.bin
written by torch.save), with random weights, and computes the logits and greedy outputs of
BartForConditionalGeneration / PegasusForConditionalGeneration in plain PyTorch, written from the published
model definitions (modeling_bart.py, modeling_pegasus.py):

  BART     post-norm layers; learned positions with offset 2; layernorm_embedding; exact GELU;
           embed_scale sqrt(d_model) only with scale_embedding (False in bart-base/large); tied lm_head;
           logits + final_logits_bias; decoder_start_token_id = eos 2.
  PEGASUS  pre-norm layers with a final encoder/decoder layer_norm; sinusoidal positions from 0
           (first half sin, second half cos, angle pos / 10000^(2 * (j // 2) / d)); scale_embedding True;
           ReLU; no layernorm_embedding; tied lm_head; logits + final_logits_bias; decoder_start_token_id = pad 0.

fairseq (--arch fairseq_bart | fairseq_transformer --format fairseq): DIR/checkpoint.pt as fairseq saves it
({"args": argparse.Namespace, "model": state dict, ...}); fairseq_transformer is pre-norm with fairseq's
sinusoidal positions (padding_idx 1) and final layer norms.

Usage (tests/models/test_hf_import.cpp runs it):
  hf_reference.py make --arch bart|pegasus|fairseq_bart|fairseq_transformer --format safetensors|bin|fairseq --out DIR
writes DIR/config.json, the weights, and DIR/expected.json: {"source": [[...]], "source_mask": [[...]],
"target_in": [[...]], "logits": [...] (batch, tgt_len, vocab flattened), "greedy": [[...]], "greedy_steps": N,
"greedy_logits": [...] (batch, steps, vocab flattened: each greedy step's logits)}.
"""
import argparse
import collections
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

# Small shapes with every structural feature of the real checkpoints (vocab, pad/bos/eos ids as in the real ones).
TINY = {
    "bart": dict(model_type="bart", architectures=["BartForConditionalGeneration"], vocab_size=96, d_model=32,
                 encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                 encoder_ffn_dim=48, decoder_ffn_dim=40, activation_function="gelu", max_position_embeddings=64,
                 scale_embedding=False, normalize_before=False, add_final_layer_norm=False,
                 pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=0,
                 dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, tie_word_embeddings=True,
                 is_encoder_decoder=True),
    "pegasus": dict(model_type="pegasus", architectures=["PegasusForConditionalGeneration"], vocab_size=80,
                    d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                    decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48, activation_function="relu",
                    max_position_embeddings=64, scale_embedding=True, normalize_before=True,
                    add_final_layer_norm=True, static_position_embeddings=True, pad_token_id=0, eos_token_id=1,
                    decoder_start_token_id=0, dropout=0.1, attention_dropout=0.1, activation_dropout=0.1,
                    tie_word_embeddings=True, is_encoder_decoder=True),
}


def style(cfg):
    """The structural choices of an architecture: bart, pegasus, or a fairseq transformer (cfg["fairseq_style"])."""
    kind = cfg.get("fairseq_style", cfg["model_type"])
    return dict(pre=kind in ("pegasus", "transformer"),
                positions={"bart": "learned", "pegasus": "pegasus", "transformer": "fairseq"}[kind],
                layernorm_embedding=kind == "bart", final_norm=kind in ("pegasus", "transformer"))


def fairseq_sinusoidal(positions, dim):
    """fairseq's SinusoidalPositionalEmbedding.get_embedding rows for `positions` (padding rows = zeros)."""
    half = dim // 2
    emb = torch.exp(torch.arange(half, dtype=torch.float) * -(math.log(10000) / (half - 1)))
    angles = positions.float().unsqueeze(-1) * emb
    return torch.cat([torch.sin(angles), torch.cos(angles)], -1)


# fairseq checkpoints: the same tiny shapes; "args" is an argparse.Namespace as fairseq (< 0.10) saved it.
FAIRSEQ = {
    "fairseq_bart": dict(TINY["bart"], fairseq_style="bart", decoder_ffn_dim=48, dropout=0.0),
    "fairseq_transformer": dict(TINY["bart"], fairseq_style="transformer", decoder_ffn_dim=48, scale_embedding=True,
                                activation_function="relu", normalize_before=True),
}


def fairseq_args(cfg):
    import argparse
    bart = cfg["fairseq_style"] == "bart"
    return argparse.Namespace(
        arch="bart_base" if bart else "transformer", encoder_embed_dim=cfg["d_model"],
        decoder_embed_dim=cfg["d_model"], encoder_layers=cfg["encoder_layers"], decoder_layers=cfg["decoder_layers"],
        encoder_attention_heads=cfg["encoder_attention_heads"], decoder_attention_heads=cfg["decoder_attention_heads"],
        encoder_ffn_embed_dim=cfg["encoder_ffn_dim"], decoder_ffn_embed_dim=cfg["decoder_ffn_dim"],
        activation_fn=cfg["activation_function"], encoder_normalize_before=cfg["normalize_before"],
        decoder_normalize_before=cfg["normalize_before"], encoder_learned_pos=bart, decoder_learned_pos=bart,
        layernorm_embedding=bart, no_scale_embedding=not cfg["scale_embedding"], share_all_embeddings=True,
        share_decoder_input_output_embed=True, max_source_positions=cfg["max_position_embeddings"],
        max_target_positions=cfg["max_position_embeddings"], dropout=0.1, attention_dropout=0.0,
        activation_dropout=0.0, adaptive_softmax_cutoff=None, no_token_positional_embeddings=False,
        task="denoising" if bart else "translation")


def save_fairseq(sd, cfg, out):
    """fairseq's layout: no "model." prefix, no final_logits_bias, decoder.output_projection, version buffers."""
    os.makedirs(out, exist_ok=True)
    model = collections.OrderedDict()
    for k, t in sd.items():
        if k in ("final_logits_bias", "model.shared.weight"):
            continue
        if k == "lm_head.weight":
            model["decoder.output_projection.weight"] = t
            continue
        model[k[len("model."):]] = t
    for stack in ("encoder", "decoder"):
        if style(cfg)["positions"] == "fairseq":
            model[f"{stack}.embed_positions._float_tensor"] = torch.FloatTensor(1)
        model[f"{stack}.version"] = torch.Tensor([3])
    torch.save({"args": fairseq_args(cfg), "model": model, "optimizer_history": [], "extra_state": {"epoch": 1}},
               os.path.join(out, "checkpoint.pt"))


def pegasus_sinusoidal(n_pos, dim):
    """PegasusSinusoidalPositionalEmbedding._init_weight, in float64 then float32 as HF (numpy)."""
    import numpy as np
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.zeros(n_pos, dim)
    sentinel = dim // 2 if dim % 2 == 0 else (dim // 2) + 1
    out[:, 0:sentinel] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, sentinel:] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


def random_state_dict(cfg, generator):
    """Every tensor of <Arch>ForConditionalGeneration.state_dict(), HF names and shapes, random values."""
    d, v = cfg["d_model"], cfg["vocab_size"]
    sd = {}

    def rand(*shape, scale=0.2):
        return torch.randn(*shape, generator=generator) * scale

    def linear(name, out_dim, in_dim):
        sd[name + ".weight"] = rand(out_dim, in_dim)
        sd[name + ".bias"] = rand(out_dim, scale=0.05)

    def norm(name):
        sd[name + ".weight"] = 1 + rand(d, scale=0.1)
        sd[name + ".bias"] = rand(d, scale=0.05)

    def attention(prefix):
        for p in ("k_proj", "v_proj", "q_proj", "out_proj"):
            linear(prefix + "." + p, d, d)

    shared = rand(v, d, scale=0.5)
    shared[cfg["pad_token_id"]] = 0
    sd["final_logits_bias"] = rand(1, v, scale=0.1)
    sd["model.shared.weight"] = shared
    for stack in ("encoder", "decoder"):
        sd[f"model.{stack}.embed_tokens.weight"] = shared
        if style(cfg)["positions"] == "learned":
            sd[f"model.{stack}.embed_positions.weight"] = rand(cfg["max_position_embeddings"] + 2, d, scale=0.5)
        elif style(cfg)["positions"] == "pegasus":
            sd[f"model.{stack}.embed_positions.weight"] = pegasus_sinusoidal(cfg["max_position_embeddings"], d)
        if style(cfg)["layernorm_embedding"]:
            norm(f"model.{stack}.layernorm_embedding")
        ffn = cfg[f"{stack}_ffn_dim"]
        for i in range(cfg[f"{stack}_layers"]):
            prefix = f"model.{stack}.layers.{i}"
            attention(prefix + ".self_attn")
            norm(prefix + ".self_attn_layer_norm")
            if stack == "decoder":
                attention(prefix + ".encoder_attn")
                norm(prefix + ".encoder_attn_layer_norm")
            linear(prefix + ".fc1", ffn, d)
            linear(prefix + ".fc2", d, ffn)
            norm(prefix + ".final_layer_norm")
        if style(cfg)["final_norm"]:
            norm(f"model.{stack}.layer_norm")
    sd["lm_head.weight"] = shared
    return sd


# ----- safetensors, from the format spec: u64 LE header size | JSON header | data -----

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the writers pad the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def save_checkpoint(sd, cfg, out, fmt):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if fmt == "safetensors":
        # save_pretrained drops the tied copies (shared tensors are stored once) and keeps model.shared.weight.
        kept = {k: t for k, t in sd.items()
                if k not in ("lm_head.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight")}
        write_safetensors(os.path.join(out, "model.safetensors"), kept, {"format": "pt"})
    else:
        state = collections.OrderedDict(sd)  # as module.state_dict(): an OrderedDict with _metadata
        state._metadata = collections.OrderedDict([("", {"version": 1})])
        torch.save(state, os.path.join(out, "pytorch_model.bin"))


# ----- the reference forward -----

def layer_norm(x, sd, name):
    return F.layer_norm(x, (x.shape[-1],), sd[name + ".weight"], sd[name + ".bias"], 1e-5)


def linear(x, sd, name):
    return F.linear(x, sd[name + ".weight"], sd[name + ".bias"])


def attention(sd, name, hidden, key_value, heads, additive_mask):
    """BartAttention / PegasusAttention (eval): q scaled by head_dim^-0.5 after projection, additive mask."""
    bsz, tgt, d = hidden.shape
    hd = d // heads
    q = linear(hidden, sd, name + ".q_proj") * hd ** -0.5
    k = linear(key_value, sd, name + ".k_proj")
    v = linear(key_value, sd, name + ".v_proj")
    split = lambda t: t.view(bsz, -1, heads, hd).transpose(1, 2)
    w = torch.matmul(split(q), split(k).transpose(-1, -2)) + additive_mask  # (bsz, heads, tgt, src)
    w = torch.softmax(w, dim=-1)
    out = torch.matmul(w, split(v)).transpose(1, 2).reshape(bsz, tgt, d)
    return linear(out, sd, name + ".out_proj")


def expand_mask(mask, tgt_len):  # (bsz, src) 1/0 -> (bsz, 1, tgt, src) additive
    inverted = 1.0 - mask[:, None, None, :].float().expand(-1, 1, tgt_len, -1)
    return inverted.masked_fill(inverted.bool(), torch.finfo(torch.float32).min)


def causal_mask(tgt_len):
    m = torch.full((tgt_len, tgt_len), torch.finfo(torch.float32).min)
    return torch.triu(m, diagonal=1)[None, None]


def run_stack(sd, cfg, stack, x, self_mask, memory=None, memory_mask=None):
    pre = style(cfg)["pre"]
    act = F.gelu if cfg["activation_function"] == "gelu" else F.relu
    heads = cfg[f"{stack}_attention_heads"]

    def block(x, norm_name, f):
        if pre:
            return x + f(layer_norm(x, sd, norm_name))
        return layer_norm(x + f(x), sd, norm_name)

    for i in range(cfg[f"{stack}_layers"]):
        p = f"model.{stack}.layers.{i}"
        x = block(x, p + ".self_attn_layer_norm", lambda h: attention(sd, p + ".self_attn", h, h, heads, self_mask))
        if memory is not None:
            x = block(x, p + ".encoder_attn_layer_norm",
                      lambda h: attention(sd, p + ".encoder_attn", h, memory, heads, memory_mask))
        x = block(x, p + ".final_layer_norm", lambda h: linear(act(linear(h, sd, p + ".fc1")), sd, p + ".fc2"))
    if style(cfg)["final_norm"]:
        x = layer_norm(x, sd, f"model.{stack}.layer_norm")
    return x


def embed(sd, cfg, stack, ids):
    d = cfg["d_model"]
    scale = math.sqrt(d) if cfg["scale_embedding"] else 1.0
    x = F.embedding(ids, sd["model.shared.weight"]) * scale
    positions = torch.arange(ids.shape[1])
    kind = style(cfg)["positions"]
    if kind == "learned":
        x = x + sd[f"model.{stack}.embed_positions.weight"][positions + 2]
    elif kind == "pegasus":
        x = x + pegasus_sinusoidal(cfg["max_position_embeddings"], d)[positions]
    else:  # fairseq make_positions: real tokens from padding_idx + 1, padding rows zero
        real = ids.ne(cfg["pad_token_id"]).long()
        pos = torch.cumsum(real, 1) * real + cfg["pad_token_id"]
        x = x + fairseq_sinusoidal(pos, d) * real.unsqueeze(-1)
    if style(cfg)["layernorm_embedding"]:
        x = layer_norm(x, sd, f"model.{stack}.layernorm_embedding")
    return x


def forward(sd, cfg, source, source_mask, target_in):
    """BartForConditionalGeneration / PegasusForConditionalGeneration logits (eval mode)."""
    memory = run_stack(sd, cfg, "encoder", embed(sd, cfg, "encoder", source), expand_mask(source_mask, source.shape[1]))
    t = target_in.shape[1]
    h = run_stack(sd, cfg, "decoder", embed(sd, cfg, "decoder", target_in), causal_mask(t), memory,
                  expand_mask(source_mask, t))
    return F.linear(h, sd["lm_head.weight"]) + sd["final_logits_bias"]


def greedy(sd, cfg, source, source_mask, steps):
    """Greedy tokens (batch, steps) and each step's logits (batch, steps, vocab)."""
    out = torch.full((source.shape[0], 1), cfg["decoder_start_token_id"], dtype=torch.long)
    step_logits = []
    for _ in range(steps):
        logits = forward(sd, cfg, source, source_mask, out)
        step_logits.append(logits[:, -1])
        out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return out[:, 1:], torch.stack(step_logits, 1)


def forced_greedy(sd, cfg, source, source_mask, steps):
    """GenerationMixin.generate(num_beams=1, do_sample=False) with forced_bos_token_id (ForcedBOSTokenLogitsProcessor:
    the first generated token is forced, every other score -inf), no other processors: per row the tokens until EOS
    (excluded) or `steps` tokens."""
    forced = cfg["forced_bos_token_id"]
    out = torch.full((source.shape[0], 1), cfg["decoder_start_token_id"], dtype=torch.long)
    done = [False] * source.shape[0]
    rows = [[] for _ in done]
    for step in range(steps):
        logits = forward(sd, cfg, source, source_mask, out)[:, -1]
        if step == 0:
            scores = torch.full_like(logits, -math.inf)
            scores[:, forced] = 0
            logits = scores
        next_tokens = logits.argmax(-1)
        for r, t in enumerate(next_tokens.tolist()):
            if not done[r]:
                if t == cfg["eos_token_id"]:
                    done[r] = True
                else:
                    rows[r].append(t)
        out = torch.cat([out, next_tokens.unsqueeze(1)], 1)
    return rows


def bytes_to_unicode():
    """GPT-2's printable characters for the 256 bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_bpe_tokenizer(out, text_path, merges_wanted):
    """A BART-style tokenizer.json (HF tokenizers' layout: BPE model, ByteLevel pre-tokenizer and decoder,
    RobertaProcessing): <s> <pad> </s> <unk>, the 256 byte pieces, `merges_wanted` merges learned from the words of
    `text_path` (most frequent pair first), <mask> last. Returns the vocabulary size."""
    b2u = bytes_to_unicode()
    counts = collections.Counter()
    with open(text_path, encoding="utf-8") as f:
        for line in f:
            for word in json.loads(line).get("article_text", [])[:20]:
                for w in word.split():
                    counts[tuple(b2u[b] for b in (" " + w).encode("utf-8"))] += 1
    pieces = ["<s>", "<pad>", "</s>", "<unk>"] + [b2u[b] for b in range(256)]
    merges = []
    words = dict(counts)
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        pieces.append(best[0] + best[1])
        merged = {}
        for word, n in words.items():
            w, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    w.append(word[i] + word[i + 1])
                    i += 2
                else:
                    w.append(word[i])
                    i += 1
            merged[tuple(w)] = merged.get(tuple(w), 0) + n
        words = merged
    pieces.append("<mask>")
    special = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": len(pieces) - 1}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": c == "<mask>", "rstrip": False,
                          "normalized": False, "special": True} for c, i in special.items()],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                           "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False,
                  "vocab": {p: i for i, p in enumerate(pieces)}, "merges": [a + " " + b for a, b in merges]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    return len(pieces)


def make(args):
    cfg = dict(TINY.get(args.arch) or FAIRSEQ[args.arch])
    # A checkpoint for a tokenizer made here (the end-to-end import -> train --init-from check): its vocabulary
    # size and special ids, and its SentencePiece model as spiece.model.
    for key, value in (("vocab_size", args.vocab_size), ("pad_token_id", args.pad_id), ("bos_token_id", args.bos_id),
                       ("eos_token_id", args.eos_id)):
        if value is not None:
            cfg[key] = value
    if args.pad_id is not None and cfg["model_type"] == "pegasus":
        cfg["decoder_start_token_id"] = args.pad_id
    if args.bpe_text:  # a byte-level BPE tokenizer.json learned here; the model's vocabulary is its size
        os.makedirs(args.out, exist_ok=True)
        cfg["vocab_size"] = write_bpe_tokenizer(args.out, args.bpe_text, args.bpe_merges)
    g = torch.Generator().manual_seed(args.seed)
    sd = random_state_dict(cfg, g)
    if args.arch in FAIRSEQ:
        sd["final_logits_bias"].zero_()  # fairseq has none
        save_fairseq(sd, cfg, args.out)
    else:
        save_checkpoint(sd, cfg, args.out, args.format)
    if args.spiece:
        import shutil
        shutil.copyfile(args.spiece, os.path.join(args.out, "spiece.model"))
    v, pad, eos = cfg["vocab_size"], cfg["pad_token_id"], cfg["eos_token_id"]
    # Two right-padded sources (a full one, a shorter one), tokens away from the special ids.
    lengths, src_len = [12, 7], 12
    source = torch.full((2, src_len), pad, dtype=torch.long)
    mask = torch.zeros(2, src_len, dtype=torch.long)
    bos_framed = args.arch in ("bart", "fairseq_bart")  # BART's tokenizer frames sources as <s> ... </s>
    for r, n in enumerate(lengths):
        source[r, :n - 1] = torch.randint(4, v, (n - 1,), generator=g)
        if bos_framed:
            source[r, 0] = cfg["bos_token_id"]
        source[r, n - 1] = eos
        mask[r, :n] = 1
    target_in = torch.cat([torch.full((2, 1), cfg["decoder_start_token_id"]), torch.randint(4, v, (2, 5), generator=g)], 1)
    with torch.no_grad():
        logits = forward(sd, cfg, source, mask, target_in)
        steps = 8
        tokens, step_logits = greedy(sd, cfg, source, mask, steps)
    expected = {"source": source.tolist(), "source_mask": mask.tolist(), "target_in": target_in.tolist(),
                "logits_shape": list(logits.shape), "logits": logits.reshape(-1).tolist(),
                "greedy": tokens.tolist(), "greedy_steps": steps,
                "greedy_logits": step_logits.reshape(-1).tolist()}
    if args.arch == "bart" and cfg.get("forced_bos_token_id") is not None:
        with torch.no_grad():
            expected["forced_greedy"] = forced_greedy(sd, cfg, source, mask, steps)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--arch", choices=sorted(TINY) + sorted(FAIRSEQ), required=True)
    m.add_argument("--format", choices=["safetensors", "bin", "fairseq"], required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--seed", type=int, default=0)
    for flag in ("--vocab-size", "--pad-id", "--bos-id", "--eos-id"):
        m.add_argument(flag, type=int)
    m.add_argument("--spiece", help="a SentencePiece model to ship as spiece.model")
    m.add_argument("--bpe-text", help="learn a byte-level BPE tokenizer.json from this Cohan JSONL file's articles")
    m.add_argument("--bpe-merges", type=int, default=40)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    make(args)


if __name__ == "__main__":
    sys.exit(main())

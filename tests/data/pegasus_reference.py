#!/usr/bin/env python3
"""Reference ids and texts for data::PegasusTokenizer (tests/data/test_pegasus_tokenizer.cpp).

Hugging Face's PegasusTokenizer rule, written out from transformers' models/pegasus/tokenization_pegasus.py and
PreTrainedTokenizer.tokenize, on the sentencepiece module (Debian's python3-sentencepiece) and nothing else:
  - ids: 0 <pad>, 1 </s>, 2 <mask_1>, 3 <mask_2>, i + 3 -> additional_special_tokens[i] (<unk_2>..<unk_{offset-1}>),
    a SentencePiece piece p -> sp.piece_to_id(p) + offset; vocab_size = len(sp) + offset;
  - tokenize: the special tokens (pad, eos, unk, mask, mask_sent, additional) are split off whole (longest match at
    the earliest position, as its trie does), the whitespace next to them stripped, the rest sp.encode(out_type=str);
  - decode (convert_tokens_to_string, pad and eos skipped as pyramidion's decode skips them): special tokens written
    as their text between sp.decode runs, the result stripped.

Usage: pegasus_reference.py SPIECE_MODEL OFFSET < {"encode": [texts], "decode": [[ids]]} > {"ids": ..., "texts": ...}
"""
import json
import sys

import sentencepiece as spm


def main():
    model, offset = sys.argv[1], int(sys.argv[2])
    sp = spm.SentencePieceProcessor(model_file=model)
    pad, eos, unk, mask, mask_sent = "<pad>", "</s>", "<unk>", "<mask_2>", "<mask_1>"
    additional = [mask_sent] + [f"<unk_{i}>" for i in range(2, offset)]
    encoder = {0: pad, 1: eos, 2: mask_sent, 3: mask}
    encoder.update({i + 3: additional[i] for i in range(1, offset - 1)})
    decoder = {token: i for i, token in encoder.items()}
    special = set([pad, eos, unk, mask] + additional)
    longest = max(map(len, special))

    def token_to_id(token):
        return decoder[token] if token in decoder else sp.piece_to_id(token) + offset

    def id_to_token(i):
        return encoder[i] if i in encoder else sp.id_to_piece(i - offset)

    def tokenize(text):
        parts, start, i = [], 0, 0
        while i < len(text):
            match = next((text[i:i + n] for n in range(min(longest, len(text) - i), 0, -1) if text[i:i + n] in special),
                         None)
            if match is None:
                i += 1
                continue
            parts += [text[start:i], match]
            i += len(match)
            start = i
        parts.append(text[start:])
        for k, part in enumerate(parts):  # strip left and right of a special token
            if part in special and k % 2 == 1:
                parts[k - 1] = parts[k - 1].rstrip()
                parts[k + 1] = parts[k + 1].lstrip()
        tokens = []
        for k, part in enumerate(parts):
            if k % 2 == 1:
                tokens.append(part)
            elif part:
                tokens += sp.encode(part, out_type=str)
        return tokens

    def decode(ids):
        out, run = "", []
        for i in ids:
            if i in (0, 1):
                continue
            token = id_to_token(i)
            if token in special:
                out += sp.decode(run) + token
                run = []
            else:
                run.append(token)
        return (out + sp.decode(run)).strip()

    request = json.load(sys.stdin)
    json.dump({"vocab_size": len(sp) + offset,
               "ids": [[token_to_id(t) for t in tokenize(text)] for text in request["encode"]],
               "texts": [decode(ids) for ids in request["decode"]]}, sys.stdout)


if __name__ == "__main__":
    main()

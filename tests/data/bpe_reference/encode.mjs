// Encodes texts with Hugging Face's JavaScript tokenizers, the reference tests/data/test_byte_level_bpe.cpp
// compares ByteLevelBpeTokenizer with. Usage: node encode.mjs CASES.json OUT.json
//   CASES.json: {"tokenizers": [path of a tokenizer.json, ...], "texts": [...], "drop_ids": [ids decode skips]}
//   OUT.json:   {"results": [[{"ids": [...], "words": [...], "decoded": "..."} per text] per tokenizer]}
// "words": the ByteLevel pre-tokenizer's split of the text (no added tokens involved), for diagnostics.
import { readFileSync, writeFileSync } from "node:fs";
import { Tokenizer, ByteLevelPreTokenizer } from "@huggingface/tokenizers";

const [casesPath, outPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const drop = new Set(cases.drop_ids ?? []);
const results = cases.tokenizers.map((path) => {
  const json = JSON.parse(readFileSync(path, "utf8"));
  const tokenizer = new Tokenizer(json, { clean_up_tokenization_spaces: false });
  const pre = new ByteLevelPreTokenizer({ add_prefix_space: false });
  return cases.texts.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    const kept = ids.filter((id) => !drop.has(id));
    const decoded = kept.length > 0 ? tokenizer.decode(kept, { clean_up_tokenization_spaces: false }) : "";
    return { ids, words: pre.pre_tokenize_text(text), decoded };
  });
});
writeFileSync(outPath, JSON.stringify({ results }));

#pragma once
// A tiny model file for the server tests: a word tokenizer trained on text written here (no reference data
// needed) and random float64 weights. Also used by the browser test's model tool (tests/browser/).
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/model_file.h"

namespace pyramidion::testing {

inline const std::vector<std::string>& tiny_words() {
  static const std::vector<std::string> w = {
      "alpha",  "bravo", "charlie", "delta",  "echo",     "foxtrot", "golf",   "hotel",  "india",
      "juliet", "kilo",  "lima",    "mike",   "november", "oscar",   "papa",   "quebec", "romeo",
      "sierra", "tango", "uniform", "victor", "whiskey",  "xray",    "yankee", "zulu",   "one",
      "two",    "three", "four",    "five",   "six",      "seven",   "eight",  "nine",   "ten"};
  return w;
}

// `length` words drawn from tiny_words() with `seed`.
inline std::string tiny_document(uint64_t seed, int length) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::string text;
  for (int i = 0; i < length; ++i) text += (i ? " " : "") + tiny_words()[rng() % tiny_words().size()];
  return text;
}

// Writes the model file (64 source positions unless told, float64 weights) to `path`; `work_dir` holds the
// tokenizer text. copy_attention: a pointer-generator model (its gate's weights random too).
inline void write_tiny_model(const std::string& path, const std::filesystem::path& work_dir,
                             int64_t max_source_positions = 64, bool copy_attention = false) {
  const std::string text_path = (work_dir / "tiny-tokenizer-text.txt").string();
  {
    std::ofstream text(text_path);
    for (const auto& w : tiny_words()) text << w << "\n";
    for (int i = 0; i < 200; ++i) text << tiny_document(1000 + i, 12) << "\n";
  }
  data::TokenizerTrainOptions t;
  t.input_files = {text_path};
  t.model_type = "word";
  t.vocab_size = static_cast<int>(tiny_words().size()) + 5;  // + pad, unk, bos, eos, <sep>
  t.threads = 1;
  const auto tokenizer = data::SentencePieceTokenizer::train(t);
  std::filesystem::remove(text_path);

  ModelConfig c;
  c.vocab_size = tokenizer.vocab_size();
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.chunk_size = 8;
  c.pooling.schedule = {{0, 12}, {1, 6}};
  c.max_source_positions = max_source_positions;
  c.max_target_positions = 32;
  c.copy_attention = copy_attention;
  torch::manual_seed(11);
  SummarizationModel model(c);
  model->to(torch::kDouble);
  model->eval();
  save_model_file(path, model, tokenizer.serialized());
}

}  // namespace pyramidion::testing

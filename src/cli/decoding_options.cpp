#include "decoding_options.h"

namespace pyramidion::cli {

void add_decoding_options(CLI::App& app, GenerationOptions& options) {
  auto& s = options.search;
  const std::string group = "Decoding (the paper: --beam 16 --lenpen 1 --min-len 72 --max-len-b 966)";
  app.add_option("--beam", s.beam, "beam size (1 = greedy)")->check(CLI::PositiveNumber)->capture_default_str()->group(group);
  app.add_option("--lenpen", s.lenpen, "length penalty: score / length^lenpen")->capture_default_str()->group(group);
  app.add_option("--min-len", s.min_len, "minimum summary length in tokens")->check(CLI::NonNegativeNumber)->capture_default_str()->group(group);
  app.add_option("--max-len-a", s.max_len_a, "maximum length = a * source length + b")->capture_default_str()->group(group);
  app.add_option("--max-len-b", s.max_len_b, "maximum length = a * source length + b")->capture_default_str()->group(group);
  app.add_option("--no-repeat-ngram-size", s.no_repeat_ngram_size, "never repeat an n-gram of this size (0 = off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(group);
  app.add_option("--unk-penalty", s.unk_penalty, "subtracted from the UNK log-probability")->capture_default_str()->group(group);
  app.add_option("--gen-max-tokens", options.max_source_tokens_per_batch, "source tokens per generation batch")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(group);
  app.add_option("--gen-max-docs", options.max_documents_per_batch, "documents per generation batch")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(group);
}

}  // namespace pyramidion::cli

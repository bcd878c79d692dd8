#include "decoding_options.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "command.h"

namespace pyramidion::cli {

std::string decoding_flag(const std::string& field) {
  if (field == "max_source_tokens_per_batch") return "--gen-max-tokens";
  if (field == "max_documents_per_batch") return "--gen-max-docs";
  std::string flag = "--" + field;
  for (char& c : flag) if (c == '_') c = '-';
  return flag;
}

void check_decoding_options(const GenerationOptions& options) {
  try {
    validate(options);
  } catch (const InvalidGenerationOption& e) {
    throw CommandError(decoding_flag(e.field) + " " + e.reason, 2);  // a value the command line got wrong: usage
  }
}

void fit_length_to_model(GenerationOptions& options, const ModelConfig& model, bool max_len_b_given, bool strict) {
  auto& search = options.search;
  const int64_t cap = model.max_target_positions - 1;
  if (!max_len_b_given) search.max_len_b = std::min<int64_t>(search.max_len_b, cap);
  const double longest =
      search.max_len_a * static_cast<double>(model.max_source_positions) + static_cast<double>(search.max_len_b);
  if (longest <= static_cast<double>(cap)) return;
  const std::string message = fmt::format(
      "--max-len-a {} --max-len-b {} allow {:.0f} tokens but the model generates at most {} (max_target_positions - 1)",
      search.max_len_a, search.max_len_b, longest, cap);
  if (strict) throw CommandError(message);
  spdlog::warn("{}; summaries are capped there", message);
}

void add_decoding_options(CLI::App& app, GenerationOptions& options) {
  auto& s = options.search;
  const std::string group = "Decoding (the paper: --beam 16 --lenpen 1 --min-len 72 --max-len-b 966)";
  app.add_option("--beam", s.beam, "beam size (1 = greedy)")->capture_default_str()->group(group);
  app.add_option("--lenpen", s.lenpen, "length penalty: score / length^lenpen")->capture_default_str()->group(group);
  app.add_option("--min-len", s.min_len, "minimum summary length in tokens")->capture_default_str()->group(group);
  app.add_option("--max-len-a", s.max_len_a, "maximum length = a * source length + b")->capture_default_str()->group(group);
  app.add_option("--max-len-b", s.max_len_b, "maximum length = a * source length + b")->capture_default_str()->group(group);
  app.add_option("--no-repeat-ngram-size", s.no_repeat_ngram_size, "never repeat an n-gram of this size (0 = off)")
      ->capture_default_str()->group(group);
  app.add_option("--unk-penalty", s.unk_penalty, "subtracted from the UNK log-probability")->capture_default_str()->group(group);
  app.add_option("--nbest", s.nbest, "hypotheses per document, best first (at most --beam)")->capture_default_str()->group(group);
  app.add_option("--gen-max-tokens", options.max_source_tokens_per_batch, "source tokens per generation batch")
      ->capture_default_str()->group(group);
  app.add_option("--gen-max-docs", options.max_documents_per_batch, "documents per generation batch")
      ->capture_default_str()->group(group);
  // The same check the server applies to a request's options (decoding/summarizer.h validate()).
  app.parse_complete_callback([&options] { check_decoding_options(options); });
}

}  // namespace pyramidion::cli

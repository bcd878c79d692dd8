#include "decoding_options.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "command.h"

namespace pyramidion::cli {

std::string decoding_flag(const std::string& field) {
  if (const auto* option = find_generation_option(field)) return option->flag;
  std::string flag = "--" + field;  // a field of no flag (max_source_length): named as one would spell it
  for (char& c : flag)
    if (c == '_') c = '-';
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
  const std::string group = "Decoding (the paper: --beam 16 --lenpen 1 --min-len 72 --max-len-b 966)";
  // One flag per row of the generation option table (decoding/generation_options.h): the names, defaults and help
  // the HTTP API and the Python module use too; ranges are checked by validate() once the command is parsed.
  for (const auto& field : generation_option_fields()) {
    switch (field.type) {
      case GenerationOptionType::integer:
        app.add_option(field.flag, field.integer(options), field.help)->capture_default_str()->group(group);
        break;
      case GenerationOptionType::number:
        app.add_option(field.flag, field.number(options), field.help)->capture_default_str()->group(group);
        break;
      case GenerationOptionType::boolean:
        app.add_flag(field.flag, field.boolean(options), field.help)->group(group);
        break;
    }
  }
  // The same check the server applies to a request's options (decoding/generation_options.h validate()).
  app.parse_complete_callback([&options] { check_decoding_options(options); });
}

}  // namespace pyramidion::cli

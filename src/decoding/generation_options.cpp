#include "pyramidion/decoding/generation_options.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <sstream>

namespace pyramidion {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using T = GenerationOptionType;

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string got(double value) { return "(got " + number_text(value) + ")"; }

GenerationOptionField field(const char* name, const char* flag, T type, const char* help, double minimum,
                            double maximum) {
  GenerationOptionField f{};
  f.name = name;
  f.flag = flag;
  f.type = type;
  f.help = help;
  f.minimum = minimum;
  f.maximum = maximum;
  return f;
}

GenerationOptionField integer_field(const char* name, const char* flag, const char* help, double minimum,
                                    double maximum, int64_t& (*get)(GenerationOptions&), unsigned uses,
                                    std::optional<double> off = std::nullopt) {
  GenerationOptionField f = field(name, flag, T::integer, help, minimum, maximum);
  f.integer = get;
  f.uses = uses;
  f.off = off;
  return f;
}

GenerationOptionField number_field(const char* name, const char* flag, const char* help, double minimum, double maximum,
                                   double& (*get)(GenerationOptions&), unsigned uses, bool exclusive_minimum = false,
                                   std::optional<double> off = std::nullopt) {
  GenerationOptionField f = field(name, flag, T::number, help, minimum, maximum);
  f.number = get;
  f.uses = uses;
  f.exclusive_minimum = exclusive_minimum;
  f.off = off;
  return f;
}

GenerationOptionField boolean_field(const char* name, const char* flag, const char* help,
                                    bool& (*get)(GenerationOptions&), unsigned uses) {
  GenerationOptionField f = field(name, flag, T::boolean, help, 0, 1);
  f.boolean = get;
  f.uses = uses;
  return f;
}

}  // namespace

std::string GenerationOptionField::range_text() const {
  if (type == T::boolean) return "true or false";
  std::string text;
  const bool bounded_above = std::isfinite(maximum);
  if (std::isfinite(minimum) && bounded_above)
    text =
        std::string("in ") + (exclusive_minimum ? "(" : "[") + number_text(minimum) + ", " + number_text(maximum) + "]";
  else if (std::isfinite(minimum))
    text = (exclusive_minimum ? "> " : ">= ") + number_text(minimum);
  else if (bounded_above)
    text = "<= " + number_text(maximum);
  else
    text = "a finite number";
  if (off) text += " or " + number_text(*off) + " (off)";
  return text;
}

double GenerationOptionField::value(const GenerationOptions& options) const {
  auto& o = const_cast<GenerationOptions&>(options);  // the accessors only read here
  switch (type) {
    case T::integer:
      return static_cast<double>(integer(o));
    case T::number:
      return number(o);
    case T::boolean:
      return boolean(o) ? 1.0 : 0.0;
  }
  return 0;
}

nlohmann::json GenerationOptionField::to_json(const GenerationOptions& options) const {
  auto& o = const_cast<GenerationOptions&>(options);
  switch (type) {
    case T::integer:
      return integer(o);
    case T::number:
      return number(o);
    case T::boolean:
      return boolean(o);
  }
  return nullptr;
}

void GenerationOptionField::from_json(GenerationOptions& options, const nlohmann::json& value) const {
  switch (type) {
    case T::integer:
      if (!value.is_number_integer()) throw InvalidGenerationOption(name, "must be an integer");
      if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw InvalidGenerationOption(name, "is out of range");
      integer(options) = value.get<int64_t>();
      return;
    case T::number:
      if (!value.is_number()) throw InvalidGenerationOption(name, "must be a number");
      number(options) = value.get<double>();
      return;
    case T::boolean:
      if (!value.is_boolean()) throw InvalidGenerationOption(name, "must be true or false");
      boolean(options) = value.get<bool>();
      return;
  }
}

const std::vector<GenerationOptionField>& generation_option_fields() {
  using O = GenerationOptions;
  constexpr unsigned kRequestAndValidation = kPerRequest | kValidation;
  static const std::vector<GenerationOptionField> table = {
      integer_field(
          "beam", "--beam", "beam size (1 = greedy)", 1, static_cast<double>(kMaxBeam),
          [](O& o) -> int64_t& { return o.search.beam; }, kRequestAndValidation),
      number_field(
          "lenpen", "--lenpen", "length penalty: score / length^lenpen", -kInf, kInf,
          [](O& o) -> double& { return o.search.lenpen; }, kRequestAndValidation),
      integer_field(
          "min_len", "--min-len", "minimum summary length in tokens", 0, kInf,
          [](O& o) -> int64_t& { return o.search.min_len; }, kRequestAndValidation),
      number_field(
          "max_len_a", "--max-len-a", "maximum length = a * source length + b", 0, kInf,
          [](O& o) -> double& { return o.search.max_len_a; }, kRequestAndValidation),
      integer_field(
          "max_len_b", "--max-len-b", "maximum length = a * source length + b", 0, kInf,
          [](O& o) -> int64_t& { return o.search.max_len_b; }, kRequestAndValidation),
      integer_field(
          "no_repeat_ngram_size", "--no-repeat-ngram-size", "never repeat an n-gram of this size (0 = off)", 0, kInf,
          [](O& o) -> int64_t& { return o.search.no_repeat_ngram_size; }, kRequestAndValidation),
      number_field(
          "unk_penalty", "--unk-penalty", "subtracted from the UNK log-probability", -kInf, kInf,
          [](O& o) -> double& { return o.search.unk_penalty; }, kRequestAndValidation),
      integer_field(
          "nbest", "--nbest", "hypotheses per document, best first (at most --beam)", 1, kInf,
          [](O& o) -> int64_t& { return o.search.nbest; }, kPerRequest),
      number_field(
          "temperature", "--temperature", "divides the log-probabilities before softmax (< 1 sharper)", 0, kInf,
          [](O& o) -> double& { return o.search.temperature; }, kRequestAndValidation,
          /*exclusive_minimum=*/true),
      boolean_field(
          "sampling", "--sampling", "sample each token instead of searching for the best",
          [](O& o) -> bool& { return o.search.sampling; }, kPerRequest),
      integer_field(
          "sampling_topk", "--sampling-topk", "sample from the k most likely tokens (-1 = all)", 1, kInf,
          [](O& o) -> int64_t& { return o.search.sampling_topk; }, kPerRequest, -1.0),
      number_field(
          "sampling_topp", "--sampling-topp",
          "sample from the smallest set of tokens whose probability reaches p (-1 = all)", 0, 1,
          [](O& o) -> double& { return o.search.sampling_topp; }, kPerRequest, /*exclusive_minimum=*/true, -1.0),
      integer_field(
          "seed", "--seed", "sampling seed (a document's draws depend only on it and the document's index)", 0, kInf,
          [](O& o) -> int64_t& { return o.search.seed; }, kPerRequest),
      integer_field(
          "diverse_beam_groups", "--diverse-beam-groups",
          "diverse beam search: groups of beam / groups rows (-1 = off)", 1, static_cast<double>(kMaxBeam),
          [](O& o) -> int64_t& { return o.search.diverse_beam_groups; }, kPerRequest, -1.0),
      number_field(
          "diverse_beam_strength", "--diverse-beam-strength",
          "diverse beam search: penalty per earlier group's use of a token", -kInf, kInf,
          [](O& o) -> double& { return o.search.diverse_beam_strength; }, kPerRequest),
      integer_field(
          "max_source_tokens_per_batch", "--gen-max-tokens", "source tokens per generation batch", 1, kInf,
          [](O& o) -> int64_t& { return o.max_source_tokens_per_batch; }, kPerProcess),
      integer_field(
          "max_documents_per_batch", "--gen-max-docs", "documents per generation batch", 1, kInf,
          [](O& o) -> int64_t& { return o.max_documents_per_batch; }, kPerProcess),
  };
  return table;
}

const GenerationOptionField* find_generation_option(std::string_view name) {
  for (const auto& f : generation_option_fields())
    if (name == f.name) return &f;
  return nullptr;
}

const GenerationOptionField* find_generation_option_by_flag(std::string_view flag) {
  for (const auto& f : generation_option_fields())
    if (flag == f.flag) return &f;
  return nullptr;
}

bool same_generation_options(const GenerationOptions& a, const GenerationOptions& b) {
  for (const auto& f : generation_option_fields()) {
    const double x = f.value(a), y = f.value(b);
    if (!(x == y) && !(std::isnan(x) && std::isnan(y))) return false;
  }
  return a.max_source_length == b.max_source_length && a.return_pooling == b.return_pooling &&
         a.return_cross_attention == b.return_cross_attention;
}

void validate(const GenerationOptions& options) {
  for (const auto& f : generation_option_fields()) {
    if (f.type == T::boolean) continue;
    const double v = f.value(options);
    if (f.off && v == *f.off) continue;
    const bool above_minimum = f.exclusive_minimum ? v > f.minimum : v >= f.minimum;
    // NaN fails both comparisons; an infinite value is refused even where the range is unbounded.
    if (!(above_minimum && v <= f.maximum) || !std::isfinite(v))
      throw InvalidGenerationOption(f.name, "must be " + f.range_text() + " " + got(v));
  }
  const auto& s = options.search;
  if (s.nbest > s.beam)
    throw InvalidGenerationOption(
        "nbest", "must be between 1 and beam (" + std::to_string(s.beam) + ") " + got(static_cast<double>(s.nbest)));
  if (!s.sampling && s.sampling_topk != -1) throw InvalidGenerationOption("sampling_topk", "needs sampling (true)");
  if (!s.sampling && s.sampling_topp != -1.0) throw InvalidGenerationOption("sampling_topp", "needs sampling (true)");
  if (s.sampling_topk != -1 && s.sampling_topp != -1.0)
    throw InvalidGenerationOption("sampling_topp", "and sampling_topk exclude each other (give one)");
  const int64_t groups = s.diverse_beam_groups;
  if (groups > 1) {
    if (s.sampling) throw InvalidGenerationOption("diverse_beam_groups", "and sampling exclude each other");
    if (s.beam % groups != 0)
      throw InvalidGenerationOption("diverse_beam_groups", "must divide beam (" + std::to_string(s.beam) + ") " +
                                                               got(static_cast<double>(groups)));
  }
  if (options.max_source_length < 0)
    throw InvalidGenerationOption("max_source_length",
                                  "must be >= 0 " + got(static_cast<double>(options.max_source_length)));
}

}  // namespace pyramidion

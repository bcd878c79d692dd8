#pragma once
// The generation options and their one declaration. Every option is a row of generation_option_fields(): its
// name (JSON, Python keyword, YAML key after `valid_`), command-line flag, type, default, accepted range and help.
// The CLI's flags, the HTTP request reader and /openapi.json, the Python keywords and the training YAML's
// `valid_*` keys are all made from that table, and validate() checks every row, so an option has one name, one
// default and one range everywhere (tests/decoding/test_generation_options.cpp holds each front end to it).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pyramidion/decoding/beam_search.h"

namespace pyramidion {

struct GenerationOptions {
  // search.cancelled (optional) is checked before each batch and each decoding step: returning true makes
  // summarize() throw GenerationCancelled (e.g. a server whose client left).
  BeamSearchOptions search;
  // Documents are sorted by length and packed into generation batches of at most this many source tokens (beam
  // rows not counted) and this many documents; a document's result does not depend on its batch.
  int64_t max_source_tokens_per_batch = 16384;
  int64_t max_documents_per_batch = 32;
  // > 0: documents are cut to this many source tokens (EOS included) before max_source_positions applies, and
  // marked truncated; 0 = only max_source_positions.
  int64_t max_source_length = 0;
  bool return_pooling = false;  // fill DocumentSummary::pooling
  // Fill DocumentSummary::cross_attention: one teacher-forced decoder pass over the best hypothesis after the
  // search (the search itself is unchanged, so off costs nothing).
  bool return_cross_attention = false;
  // (documents) optional: the sampling stream of each document (BeamSearchOptions::document_ids); empty = its
  // index in the summarize() call. A server batching several requests gives each document its index in its own
  // request, so a request's samples do not depend on the requests it was batched with. Not a decoding option.
  std::vector<int64_t> sampling_streams;
};

// The one validation of generation options (the CLI, the server, the Python module, the training config and
// summarize() call it): each field's range from the table, then the rules between fields. Throws
// InvalidGenerationOption naming the field as the table spells it ("beam", "max_len_b", "sampling_topp", ...).
struct InvalidGenerationOption : std::invalid_argument {
  InvalidGenerationOption(std::string field_name, const std::string& reason)
      : std::invalid_argument(field_name + " " + reason), field(std::move(field_name)), reason(reason) {}
  std::string field;   // e.g. "max_len_b"
  std::string reason;  // e.g. "must be >= 0 (got -1)"
};
void validate(const GenerationOptions& options);
inline constexpr int64_t kMaxBeam = 1024;  // validate() refuses a larger beam

enum class GenerationOptionType { integer, number, boolean };

// Where an option may be set, besides the library and the command line (which have them all).
enum GenerationOptionUse : unsigned {
  kPerRequest = 1u,  // an HTTP request's field and a Python summarize() keyword
  kValidation = 2u,  // a training YAML key `valid_<name>` (ROUGE during training)
  kPerProcess = 4u,  // batching: the command line and the Python module, not a request (the server owns it)
};

struct GenerationOptionField {
  const char* name;  // JSON / Python / YAML spelling
  const char* flag;  // command-line flag
  GenerationOptionType type;
  const char* help;
  double minimum;  // accepted range [minimum, maximum] (exclusive_minimum: (minimum, maximum])
  double maximum;
  bool exclusive_minimum = false;
  std::optional<double> off;  // a value outside the range that means "off" (fairseq's -1)
  unsigned uses = kPerRequest;
  // The field in an options struct (captureless: the table is static data).
  int64_t& (*integer)(GenerationOptions&) = nullptr;
  double& (*number)(GenerationOptions&) = nullptr;
  bool& (*boolean)(GenerationOptions&) = nullptr;

  // "must be >= 1 or -1 (off)" style: the range as the error messages and the help say it.
  std::string range_text() const;
  // The value as a double (integers and booleans too), and as JSON with its own type.
  double value(const GenerationOptions& options) const;
  nlohmann::json to_json(const GenerationOptions& options) const;
  // Sets the field from JSON; throws InvalidGenerationOption ("must be an integer") on a value of the wrong type.
  // The range is validate()'s.
  void from_json(GenerationOptions& options, const nlohmann::json& value) const;
};

// Every option, in the order the help and the docs list them.
const std::vector<GenerationOptionField>& generation_option_fields();
// The row named `name` (the JSON spelling), or null.
const GenerationOptionField* find_generation_option(std::string_view name);
// The row whose flag is `flag` ("--max-len-b"), or null.
const GenerationOptionField* find_generation_option_by_flag(std::string_view flag);
// Whether two option sets decode the same way (every table field, plus the return_* flags): documents of two
// requests may share a generation batch only then.
bool same_generation_options(const GenerationOptions& a, const GenerationOptions& b);

}  // namespace pyramidion

// Every generation option reaches every front end under one name, with one default and one range: the command
// line (`summarize --help` and a value out of range), an HTTP request (and the refusal of a value out of range), the
// training YAML's `valid_<name>` keys, each derived from the one table (decoding/generation_options.h).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "cli_runner.h"
#include "pyramidion/decoding/generation_options.h"
#include "pyramidion/training/training_config.h"
#include "server/summarize_request.h"

namespace pyramidion {
namespace {

using nlohmann::json;

// A value each field refuses: below its minimum (at it, when the minimum is exclusive), else not finite.
json out_of_range(const GenerationOptionField& f) {
  if (f.type == GenerationOptionType::boolean) return "yes";  // the wrong type
  if (!std::isfinite(f.minimum)) return "inf";                // text on the command line and in YAML
  const double bad = f.exclusive_minimum ? f.minimum : f.minimum - 1;
  if (f.off && bad == *f.off) return f.minimum - 2;
  if (f.type == GenerationOptionType::integer) return static_cast<int64_t>(bad);
  return bad;
}

std::string as_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

TEST(GenerationOptionFrontEnds, EveryOptionHasOneNameDefaultAndRangeEverywhere) {
  const GenerationOptions defaults;
  const auto help = testing::run_cli("summarize --help");
  ASSERT_EQ(help.exit_code, 0) << help.output;
  const auto valid_keys = TrainingConfig::keys();
  int request_fields = 0, validation_keys = 0;
  for (const auto& f : generation_option_fields()) {
    SCOPED_TRACE(f.name);
    // The flag is the name with dashes (the batching knobs keep their short historical flags).
    std::string dashed = std::string("--") + f.name;
    for (char& c : dashed) c = c == '_' ? '-' : c;
    if (!(f.uses & kPerProcess)) EXPECT_EQ(dashed, f.flag);
    EXPECT_EQ(find_generation_option_by_flag(f.flag), &f);
    EXPECT_NE(help.output.find(f.flag), std::string::npos) << "summarize --help lacks " << f.flag;
    if (f.type != GenerationOptionType::boolean) {
      // CLI11 shows the default after the type: "--beam INT=4".
      std::ostringstream shown;
      shown << f.value(defaults);
      EXPECT_NE(help.output.find(std::string(f.flag) + (f.type == GenerationOptionType::integer ? " INT=" : " FLOAT=") +
                                 shown.str()),
                std::string::npos)
          << "default " << shown.str();
    }
    const json bad = out_of_range(f);

    // Command line: a usage error (exit 2) naming the flag, before any model is read.
    if (f.type != GenerationOptionType::boolean) {
      const auto r =
          testing::run_cli(std::string("summarize -m /nonexistent.pt -i /dev/null ") + f.flag + " " + as_text(bad));
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_NE(r.output.find(std::string(f.flag) + " must be"), std::string::npos) << r.output;
    }

    // HTTP: a request field when per-request, refused with 400 naming the field; unknown otherwise.
    // JSON has no infinity: a number beyond double stands for it (refused as out of range, naming the field).
    const bool not_finite = bad.is_string() && f.type != GenerationOptionType::boolean;
    const std::string body = "{\"document\": \"some text\", \"" + std::string(f.name) +
                             "\": " + (not_finite ? std::string("1e400") : bad.dump()) + "}";
    try {
      server::parse_summarize_request(body, defaults, server::RequestLimits{});
      ADD_FAILURE() << "the request was accepted: " << body;
    } catch (const server::RequestError& e) {
      EXPECT_EQ(e.status, 400);
      const std::string expected =
          (f.uses & kPerRequest) ? "\"" + std::string(f.name) + "\"" : "unknown field \"" + std::string(f.name) + "\"";
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    if (f.uses & kPerRequest) {
      ++request_fields;
      // The default is the library's: a request that sets the field to it decodes as one that leaves it out.
      json same = {{"document", "some text"}, {f.name, f.to_json(defaults)}};
      const auto parsed = server::parse_summarize_request(same.dump(), defaults, server::RequestLimits{});
      EXPECT_TRUE(same_generation_options(parsed.generation, defaults));
    }

    // Training YAML: `valid_<name>` exists exactly for the options used in validation, and is range-checked there.
    const std::string key = std::string("valid_") + f.name;
    const bool listed = std::find(valid_keys.begin(), valid_keys.end(), key) != valid_keys.end();
    EXPECT_EQ(listed, (f.uses & kValidation) != 0);
    if (listed) {
      ++validation_keys;
      const auto document = YAML::Load("training:\n  " + key + ": " + as_text(bad) + "\n");
      try {
        TrainingConfig::from_yaml(document, "config.yaml");
        ADD_FAILURE() << key << ": " << as_text(bad) << " was accepted";
      } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("training." + key), std::string::npos) << e.what();
      }
    }
  }
  // docs/decoding.md has a row for each: its name and its flag.
  std::ifstream doc_file(testing::source_dir() / "docs" / "decoding.md");
  const std::string doc((std::istreambuf_iterator<char>(doc_file)), std::istreambuf_iterator<char>());
  for (const auto& f : generation_option_fields())
    EXPECT_NE(doc.find("| `" + std::string(f.name) + "` | `" + f.flag + "` |"), std::string::npos)
        << "docs/decoding.md lacks the row of " << f.name;
  EXPECT_GE(request_fields, 14);
  EXPECT_GE(validation_keys, 8);
}

// The rules between options hold in every front end because each calls validate(): a few of them here.
TEST(GenerationOptionFrontEnds, RulesBetweenOptions) {
  auto refused = [](const std::string& body, const std::string& word) {
    try {
      server::parse_summarize_request(body, GenerationOptions{}, server::RequestLimits{});
      ADD_FAILURE() << body << " was accepted";
    } catch (const server::RequestError& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  refused(R"({"document": "x", "sampling_topk": 5})", "\"sampling_topk\" needs sampling");
  refused(R"({"document": "x", "sampling": true, "sampling_topk": 5, "sampling_topp": 0.9})", "exclude each other");
  refused(R"({"document": "x", "beam": 4, "diverse_beam_groups": 3})", "must divide beam (4)");
  refused(R"({"document": "x", "beam": 4, "diverse_beam_groups": 2, "sampling": true})", "exclude each other");
  refused(R"({"document": "x", "beam": 2, "nbest": 3})", "\"nbest\" must be between 1 and beam (2)");
  refused(R"({"document": "x", "sampling_topp": 1.5, "sampling": true})",
          "\"sampling_topp\" must be in (0, 1] or -1 (off)");
  const auto ok = server::parse_summarize_request(
      R"({"document": "x", "sampling": true, "sampling_topp": 0.9, "temperature": 0.7, "seed": 42})",
      GenerationOptions{}, server::RequestLimits{});
  EXPECT_TRUE(ok.generation.search.sampling);
  EXPECT_EQ(ok.generation.search.sampling_topp, 0.9);
  EXPECT_EQ(ok.generation.search.temperature, 0.7);
  EXPECT_EQ(ok.generation.search.seed, 42);
}

}  // namespace
}  // namespace pyramidion

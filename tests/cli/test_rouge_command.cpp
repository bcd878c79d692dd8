// `pyramidion rouge` end to end: per-example output, JSON summary, and one-line errors with file and line.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "test_support.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_cli;

class RougeCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::binary_dir() / "pyramidion")) << "the pyramidion program is part of every build";
    dir_ = fs::temp_directory_path() / ("pyramidion_rouge_cli_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return "'" + (dir_ / name).string() + "'";
  }
  fs::path dir_;
};

TEST_F(RougeCommand, WritesPerExampleScoresAndCorpusJson) {
  const std::string pairs =
      write("pairs.jsonl",
            "{\"id\": \"same\", \"source\": \"x\", \"target\": \"The cat sat.\\nIt purred.\", "
            "\"prediction\": \"The cat sat.\\nIt purred.\"}\n"
            "\n"
            "{\"id\": 7, \"target\": \"a b c d e\", \"prediction\": \"a c e x\", \"extra\": [1]}\n");
  const CommandResult result =
      run_cli("rouge --no-stem --json --pairs " + pairs + " --per-example '" + (dir_ / "out.jsonl").string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const auto summary = nlohmann::json::parse(result.output);
  EXPECT_EQ(summary["count"], 2);
  EXPECT_EQ(summary["use_stemmer"], false);
  // Corpus rouge1 precision: mean of 1 and 3/4.
  EXPECT_DOUBLE_EQ(summary["rouge1"]["precision"]["mean"].get<double>(), (1.0 + 0.75) / 2);
  EXPECT_LE(summary["rouge1"]["precision"]["low"].get<double>(), 0.875);
  EXPECT_GE(summary["rouge1"]["precision"]["high"].get<double>(), 0.875);

  std::ifstream in(dir_ / "out.jsonl");
  std::vector<nlohmann::ordered_json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::ordered_json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "same");
  EXPECT_EQ(rows[0]["source"], "x");
  EXPECT_FALSE(rows[0].contains("target"));
  EXPECT_EQ(rows[0]["rougeLsum"]["fmeasure"].get<double>(), 1.0);
  EXPECT_EQ(rows[1]["id"], 7);
  EXPECT_EQ(rows[1]["extra"], nlohmann::ordered_json::array({1}));
  EXPECT_DOUBLE_EQ(rows[1]["rougeL"]["precision"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(rows[1]["rougeL"]["recall"].get<double>(), 0.6);
  EXPECT_EQ(rows[1]["rouge2"]["fmeasure"].get<double>(), 0.0);
  // Copied fields first, in input order, then the four metrics.
  std::vector<std::string> keys;
  for (const auto& item : rows[1].items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "extra", "rouge1", "rouge2", "rougeL", "rougeLsum"}));
  // The temporary file the output went through was renamed away.
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST_F(RougeCommand, MalformedLineFailsWithFileLineAndField) {
  const std::string pairs = write("bad.jsonl",
                                  "{\"target\": \"a\", \"prediction\": \"a\"}\n"
                                  "{\"target\": \"a\", \"prediction\": \"b\"}\n"
                                  "{\"target\": 17, \"prediction\": \"b\"}\n");
  const CommandResult result = run_cli("rouge --pairs " + pairs);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("bad.jsonl:3: field \"target\" missing or not a string"), std::string::npos)
      << result.output;

  const CommandResult broken = run_cli("rouge --pairs " + write("broken.jsonl", "{\"target\": \"a\",\n"));
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.output.find("broken.jsonl:1: invalid JSON"), std::string::npos) << broken.output;
}

TEST_F(RougeCommand, ParallelFilesMustHaveEqualCounts) {
  const std::string references = write("refs.txt", "a b c\nd e f\n");
  const CommandResult mismatch =
      run_cli("rouge --references " + references + " --predictions " + write("preds.txt", "a b c\n"));
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.output.find("refs.txt has 2"), std::string::npos) << mismatch.output;
  EXPECT_NE(mismatch.output.find("preds.txt has 1"), std::string::npos) << mismatch.output;

  // JSONL lists are sentences: rougeLsum matches each target sentence separately.
  const CommandResult lists =
      run_cli("rouge --json --no-stem --references " + write("refs.jsonl", "[\"a b\", \"c d\"]\n") + " --predictions " +
              write("preds.jsonl", "\"c d a b\"\n"));
  ASSERT_EQ(lists.exit_code, 0) << lists.output;
  const auto summary = nlohmann::json::parse(lists.output);
  EXPECT_EQ(summary["rougeLsum"]["fmeasure"]["mean"].get<double>(), 1.0);
  EXPECT_EQ(summary["rougeL"]["fmeasure"]["mean"].get<double>(), 0.5);
}

}  // namespace
}  // namespace pyramidion

// The user-facing path of the embedded default: `demo` (a short budget) leaves a model file that `summarize`
// and `evaluate` use; bad inputs give one-line errors. Whether the demo *learns* is measured in docs/demo.md
// (a 15-minute run), not here.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "cli_runner.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;
using testing::run_shell;

class DemoCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pyramidion_demo_" + std::to_string(std::random_device{}()));
    result_ = run_cli("--threads 1 demo --minutes 0.3 --test-documents 6 --beam 2 --output '" + dir_.string() + "'");
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  static fs::path dir_;
  static testing::CommandResult result_;
};
fs::path DemoCommand::dir_;
testing::CommandResult DemoCommand::result_;

TEST_F(DemoCommand, RunsEndToEndAndReports) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  for (const char* piece : {"tokenizer: 411 pieces", "stage 1", "lead-3", "tiny DeepPyramidion", "salient tokens",
                            "verdict:", "held-out document"})
    EXPECT_NE(result_.output.find(piece), std::string::npos) << piece << "\n" << result_.output;
  for (const char* file : {"model.pt", "report.json", "curve.jsonl", "test.jsonl", "spm.model"})
    EXPECT_TRUE(fs::exists(dir_ / file)) << file;
  auto report = nlohmann::json::parse(std::ifstream(dir_ / "report.json"));
  for (const char* key : {"lead3", "model", "exact_match", "pooling", "learned", "pooler_learned", "updates"})
    EXPECT_TRUE(report.contains(key)) << key;
  EXPECT_GT(report["updates"].get<int64_t>(), 0);
  const auto& pooling = report["pooling"];
  EXPECT_EQ(pooling["documents"].get<int64_t>(), 6);
  EXPECT_LE(pooling["salient_share"].get<double>(), 1.0);
  EXPECT_GT(pooling["base_rate"].get<double>(), 0.0);
  EXPECT_LT(pooling["base_rate"].get<double>(), 0.2);  // salient passages hide among many tokens
}

// On a terminal the progress bar is one line redrawn in place and the log lines written while it runs go above
// it: every log line starts on a line of its own (after a newline, or right after the bar was cleared with
// "\r\033[K"), never after the bar's text on the bar's line. `train` logs every update while its bar runs.
TEST_F(DemoCommand, OnATerminalLogLinesNeverShareTheProgressBarsLine) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const std::string d = "'" + dir_.string() + "/";
  auto r = run_cli("data prepare --tokenizer " + d + "spm.model' --train " + d + "test.jsonl' --valid " + d +
                   "test.jsonl' -o " + d + "tty-data' --max-source-length 256 --max-target-length 48 --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = testing::run_cli_in_terminal(
      "--threads 1 train --preset tiny-pyramidion --set training.max_updates=8 "
      "--set training.log_interval=1 --set training.warmup_updates=2 "
      "--set training.validate_interval=0 --set training.validate_at_end=false --data " +
      d + "tty-data' --save-dir " + d + "tty-run'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_NE(r.output.find("\r"), std::string::npos) << "no progress bar drawn on the terminal";
  size_t logs = 0, at_bar = 0;
  for (size_t at = r.output.find("[20"); at != std::string::npos; at = r.output.find("[20", at + 1)) {
    ++logs;  // a log line's timestamp "[2026-..."
    // A cleared line is "\r\033[K" right before the text (the bar itself also ends with "\033[K", after its text).
    const bool own_line =
        at == 0 || r.output[at - 1] == '\n' || (at >= 4 && r.output.compare(at - 4, 4, "\r\033[K") == 0);
    if (!own_line) {
      ++at_bar;
      ADD_FAILURE() << "log line on the bar's line: ..."
                    << r.output.substr(at < 80 ? 0 : at - 80, std::min<size_t>(at, 80) + 40);
    }
  }
  EXPECT_GE(logs, 8u) << r.output;
  EXPECT_EQ(at_bar, 0u);
}

TEST_F(DemoCommand, SummarizeReadsTheTestSplitAndWritesOneLinePerDocumentInOrder) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto model = (dir_ / "model.pt").string(), input = (dir_ / "test.jsonl").string();
  const auto output = (dir_ / "summaries.jsonl").string();
  auto r = run_cli("--threads 1 summarize -m '" + model + "' -i '" + input + "' -o '" + output +
                   "' --beam 2 --max-len-b 20");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(output);
  std::string line;
  std::vector<std::string> ids;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    ASSERT_TRUE(record["summary"].is_string());
    ids.push_back(record["id"]);
  }
  ASSERT_EQ(ids.size(), 6u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], "test-" + std::to_string(i));

  // Plain text on stdin, one document per line; an empty line gets a warning and an empty summary.
  const auto text = (dir_ / "docs.txt").string();
  std::ofstream(text) << "finding xaze xujo . bavo keti .\n\nnote zoju . finding xewu qequ .\n";
  r = run_cli("--threads 1 summarize -m '" + model + "' --input-format text --max-len-b 10 < '" + text + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("stdin:2: empty document"), std::string::npos) << r.output;
  r = run_cli("--threads 1 summarize --strict -m '" + model + "' --input-format text --max-len-b 10 < '" + text + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("stdin:2: empty document"), std::string::npos) << r.output;
}

TEST_F(DemoCommand, EvaluateReportsRougeForTheModelAndTheLeadBaseline) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto model = (dir_ / "model.pt").string(), data = (dir_ / "test.jsonl").string();
  auto r = run_cli("--threads 1 evaluate -m '" + model + "' --data '" + data + "' --beam 2 --max-len-b 20 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(json["count"].get<int64_t>(), 6);
  const double f = json["rouge2"]["fmeasure"]["mean"].get<double>();
  EXPECT_GE(f, 0.0);
  EXPECT_LE(f, 1.0);
  r = run_cli("evaluate --baseline lead-3 --data '" + data + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output.substr(r.output.find('{')))["system"], "lead-3");
}

// The default --max-len-b fits the model (the demo model writes at most max_target_positions - 1 tokens): no
// warning by default in any generating command; a length beyond the model's is announced by each of them.
TEST_F(DemoCommand, EveryGeneratingCommandFitsTheDefaultLengthAndAnnouncesTheCap) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto model = (dir_ / "model.pt").string(), data = (dir_ / "test.jsonl").string();
  const std::vector<std::string> commands = {
      "summarize -m '" + model + "' -i '" + data + "' -o /dev/null",
      "evaluate -m '" + model + "' -i '" + data + "' --max-docs 2 --json",  // -i as everywhere
      "highlight -m '" + model + "' -i '" + data + "' --json /dev/null"};
  for (const auto& command : commands) {
    auto r = run_cli("--threads 1 " + command + " --beam 1");
    ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    EXPECT_EQ(r.output.find("capped"), std::string::npos) << command << "\n" << r.output;
    r = run_cli("--threads 1 " + command + " --beam 1 --max-len-b 1000");
    ASSERT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    EXPECT_NE(r.output.find("but the model generates at most"), std::string::npos) << command << "\n" << r.output;
  }
  // On stdout the output follows the input: plain text in, one summary a line out (JSONL for JSONL input).
  const auto text = (dir_ / "plain.txt").string();
  std::ofstream(text) << "finding xaze xujo . bavo keti .\nnote zoju . finding xewu qequ .\n";
  auto r = run_shell("'" + (testing::binary_dir() / "pyramidion").string() + "' --threads 1 summarize -m '" + model +
                     "' -i '" + text + "' --max-len-b 6 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;
  EXPECT_EQ(r.output.find('{'), std::string::npos) << r.output;
  r = run_shell("'" + (testing::binary_dir() / "pyramidion").string() + "' --threads 1 summarize -m '" + model +
                "' -i '" + data + "' --max-len-b 6 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("{\"id\":", 0), 0u) << r.output;
}

// --nbest N: each JSONL line carries its hypotheses with scores, best first; the best is the summary.
TEST_F(DemoCommand, NbestListsTheHypothesesBestFirst) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto model = (dir_ / "model.pt").string(), data = (dir_ / "test.jsonl").string();
  auto r = run_shell("'" + (testing::binary_dir() / "pyramidion").string() + "' --threads 1 summarize -m '" + model +
                     "' -i '" + data + "' --beam 3 --nbest 3 --max-len-b 8 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    const auto record = nlohmann::json::parse(line);
    const auto& hypotheses = record["hypotheses"];
    ASSERT_GE(hypotheses.size(), 1u) << line;
    ASSERT_LE(hypotheses.size(), 3u) << line;
    EXPECT_EQ(hypotheses[0]["summary"], record["summary"]) << line;
    EXPECT_EQ(hypotheses[0]["score"], record["score"]) << line;
    for (size_t h = 1; h < hypotheses.size(); ++h)
      EXPECT_GE(hypotheses[h - 1]["score"].get<double>(), hypotheses[h]["score"].get<double>()) << line;
  }
  EXPECT_EQ(count, 6);
  r = run_cli("summarize -m '" + model + "' -i '" + data + "' --beam 2 --nbest 3");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--nbest must be between 1 and beam (2)"), std::string::npos) << r.output;
}

// Sampling from the command line: the same seed gives the same summaries, another seed others; diverse beams give
// n-best lists whose groups differ.
TEST_F(DemoCommand, SamplingIsReproducibleAndDiverseBeamsDiffer) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto model = (dir_ / "model.pt").string(), data = (dir_ / "test.jsonl").string();
  auto summaries = [&](const std::string& options) {
    auto r = run_shell("'" + (testing::binary_dir() / "pyramidion").string() + "' --threads 1 summarize -m '" + model +
                       "' -i '" + data + "' --max-len-b 12 " + options + " 2>/dev/null");
    EXPECT_EQ(r.exit_code, 0) << options;
    return r.output;
  };
  const auto first = summaries("--beam 1 --sampling --seed 3");
  EXPECT_EQ(summaries("--beam 1 --sampling --seed 3"), first);
  EXPECT_NE(summaries("--beam 1 --sampling --seed 4"), first);
  EXPECT_NE(summaries("--beam 1"), first);  // a sample is not the greedy summary (6 documents)

  // (The demo model is tiny: its groups' texts may coincide after detokenization, so this asks for two.)
  const auto diverse = summaries("--beam 4 --nbest 4 --diverse-beam-groups 4 --diverse-beam-strength 50");
  EXPECT_NE(diverse, summaries("--beam 4 --nbest 4"));
  std::istringstream lines(diverse);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    const auto hypotheses = nlohmann::json::parse(line)["hypotheses"];
    std::set<std::string> distinct;
    for (const auto& h : hypotheses) distinct.insert(h["summary"].get<std::string>());
    EXPECT_GE(distinct.size(), 2u) << line;
  }
  EXPECT_EQ(count, 6);
}

TEST(SummarizeCommand, BadInputsGiveOneLineErrors) {
  auto r = run_cli("summarize -m /nonexistent/model.pt -i /dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/model.pt: no such model file"), std::string::npos) << r.output;
  const auto bogus = fs::temp_directory_path() / "pyramidion_bogus_model.pt";
  std::ofstream(bogus) << "not a model";
  r = run_cli("summarize -m '" + bogus.string() + "' -i /dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(bogus.string()), std::string::npos) << r.output;
  fs::remove(bogus);
  r = run_cli("evaluate --baseline lead-x --data /dev/null");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace pyramidion

// The recipe commands through the real CLI: evaluate's lead baselines, plot, average-checkpoints, and the
// option checks of train --init-from.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "../data/temp_dir.h"
#include "cli_runner.h"

namespace pyramidion {
namespace {
namespace fs = std::filesystem;
using testing::run_cli;
using testing::TempDir;

// JSON from a command's output: the last line that starts an object onwards (stderr lines come first).
nlohmann::json json_of(const std::string& output) {
  const auto at = output.find("\n{");
  return nlohmann::json::parse(at == std::string::npos ? output : output.substr(at + 1));
}

TEST(RecipeCommands, OracleLengthLeadMatchesTheReferenceLength) {
  TempDir dir;
  // The reference is exactly the first two sentences: oracle-length lead picks two and scores 100.
  const std::string data = dir.write(
      "test.jsonl",
      R"({"article_id": "a", "article_text": ["the cell cycle is regulated .", "cyclins bind kinases .", "patients were followed ."], "abstract_text": ["<S> the cell cycle is regulated . </S>", "<S> cyclins bind kinases . </S>"]}
{"article_id": "b", "article_text": ["mutations cause cancer in mice .", "the protein increased with age ."], "abstract_text": ["<S> mutations cause cancer in mice . </S>"]}
)");
  auto oracle = run_cli("evaluate --baseline lead-oracle --data " + data + " --json --bootstrap-samples 10");
  ASSERT_EQ(oracle.exit_code, 0) << oracle.output;
  EXPECT_DOUBLE_EQ(json_of(oracle.output)["rouge1"]["fmeasure"]["mean"].get<double>(), 1.0) << oracle.output;
  EXPECT_NE(oracle.output.find("1.50 sentences per summary"), std::string::npos) << oracle.output;
  auto lead1 = run_cli("evaluate --baseline lead-1 --data " + data + " --json --bootstrap-samples 10");
  ASSERT_EQ(lead1.exit_code, 0) << lead1.output;
  EXPECT_LT(json_of(lead1.output)["rouge1"]["fmeasure"]["mean"].get<double>(), 1.0);
  auto bad = run_cli("evaluate --baseline lead-oracle-length --data " + data);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("expected lead-N"), std::string::npos) << bad.output;
}

TEST(RecipeCommands, PlotWritesSvgOrHtmlAndNamesBadLines) {
  TempDir dir;
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  const std::string log =
      "{\"kind\":\"train\",\"update\":1,\"loss\":5,\"lr\":1e-4,\"elapsed_s\":2}\n"
      "{\"kind\":\"valid\",\"update\":1,\"loss\":5.5,\"elapsed_s\":2}\n";
  dir.write("a/metrics.jsonl", log);
  dir.write("b/metrics.jsonl", log + "{\"kind\":\"train\",\"update\":2,\"loss\":4,\"lr\":2e-4}\n");
  auto html =
      run_cli("plot " + dir.file("a") + " " + dir.file("b") + " --name blockwise --name deep -o " + dir.file("c.html"));
  ASSERT_EQ(html.exit_code, 0) << html.output;
  std::ifstream in(dir.file("c.html"));
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<td>deep</td>"), std::string::npos);
  EXPECT_NE(page.find("data-series=\"blockwise\""), std::string::npos);
  auto svg = run_cli("plot " + dir.file("a") + " 2>/dev/null");
  ASSERT_EQ(svg.exit_code, 0);
  EXPECT_EQ(svg.output.rfind("<?xml", 0), 0u) << svg.output.substr(0, 200);  // stdout: the SVG only
  EXPECT_NE(svg.output.find("</svg>\n"), std::string::npos);

  dir.write("b/metrics.jsonl", log + "{oops\n");
  auto bad = run_cli("plot " + dir.file("b") + " -o " + dir.file("d.svg"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("metrics.jsonl:3: not a JSON object"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir.file("d.svg")));
  auto wrong = run_cli("plot " + dir.file("a") + " -o " + dir.file("d.png"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.output.find("expected a .svg or .html file"), std::string::npos) << wrong.output;
  auto names = run_cli("plot " + dir.file("a") + " " + dir.file("a") + " --name x");
  EXPECT_EQ(names.exit_code, 1);
  EXPECT_NE(names.output.find("one name per run"), std::string::npos) << names.output;
}

TEST(RecipeCommands, AverageCheckpointsAndInitFromRefuseBadOptions) {
  TempDir dir;
  fs::create_directories(dir.file("run"));
  auto one = run_cli("average-checkpoints --last 2 -o " + dir.file("avg.pt"));
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_NE(one.output.find("give --dir RUN_DIR"), std::string::npos) << one.output;
  auto empty = run_cli("average-checkpoints --dir " + dir.file("run") + " --last 2 -o " + dir.file("avg.pt"));
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.output.find("0 periodic checkpoints"), std::string::npos) << empty.output;
  auto both = run_cli("average-checkpoints --dir " + dir.file("run") + " --last 2 --best 2 -o " + dir.file("avg.pt"));
  EXPECT_EQ(both.exit_code, 1);
  auto best = run_cli("average-checkpoints --dir " + dir.file("run") + " --best 2 -o " + dir.file("avg.pt"));
  EXPECT_EQ(best.exit_code, 1);
  EXPECT_NE(best.output.find("checkpoint_last.pt: missing"), std::string::npos) << best.output;
  EXPECT_FALSE(fs::exists(dir.file("avg.pt")));

  auto reset = run_cli("train --preset tiny-pyramidion --data " + dir.file("run") + " --save-dir " + dir.file("s") +
                       " --reset-optimizer");
  EXPECT_EQ(reset.exit_code, 1);
  EXPECT_NE(reset.output.find("need --init-from"), std::string::npos) << reset.output;
}

}  // namespace
}  // namespace pyramidion

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "../data/temp_dir.h"
#include "pyramidion/plot/training_curves.h"

namespace pyramidion {
namespace {
using testing::TempDir;

std::string write_log(TempDir& dir, const std::string& run, const std::string& text) {
  std::filesystem::create_directories(dir.file(run));
  std::ofstream(dir.file(run + "/metrics.jsonl")) << text;
  return dir.file(run);
}

const char* kLog =
    R"({"kind":"train","update":10,"loss":5.0,"lr":1e-4,"elapsed_s":60}
{"kind":"train","update":20,"loss":4.0,"lr":2e-4,"elapsed_s":120}
{"kind":"valid","update":20,"loss":4.5,"rouge1":0.20,"rouge2":0.05,"rougeL":0.15,"rougeLsum":0.18}
{"kind":"other","update":20}

{"kind":"train","update":30,"loss":3.5,"lr":1.5e-4,"elapsed_s":180}
{"kind":"valid","update":30,"loss":4.25,"rouge1":0.25,"rouge2":0.06,"rougeL":0.16,"rougeLsum":0.21,"elapsed_s":181}
)";

TEST(TrainingCurves, ReadsTrainAndValidRecords) {
  TempDir dir;
  const auto run = read_run_curves(write_log(dir, "blockwise", kLog));
  EXPECT_EQ(run.name, "blockwise");
  ASSERT_EQ(run.train_loss.size(), 3u);
  EXPECT_DOUBLE_EQ(run.train_loss[1].value, 4.0);
  EXPECT_DOUBLE_EQ(run.learning_rate[2].value, 1.5e-4);
  ASSERT_EQ(run.valid_loss.size(), 2u);
  EXPECT_DOUBLE_EQ(run.valid_loss[0].elapsed_s, 120);  // older logs: the last train record's time
  EXPECT_DOUBLE_EQ(run.valid_loss[1].elapsed_s, 181);
  EXPECT_DOUBLE_EQ(run.rouge2[1].value, 0.06);
}

TEST(TrainingCurves, BadLinesNameTheFileAndLine) {
  TempDir dir;
  auto expect_error = [&](const std::string& text, const std::string& fragment) {
    const std::string path = write_log(dir, "bad", text);
    try {
      read_run_curves(path);
      FAIL() << text;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("{\"kind\":\"train\",\"update\":1,\"loss\":2,\"lr\":1}\nnot json\n",
               "metrics.jsonl:2: not a JSON object");
  expect_error("{\"kind\":\"train\",\"update\":1,\"lr\":1}\n", "metrics.jsonl:1: \"loss\" is missing");
  expect_error("{\"kind\":\"valid\",\"update\":\"x\",\"loss\":1}\n", "metrics.jsonl:1: \"update\" must be a number");
  expect_error(std::string(100000, '[') + "\n", "metrics.jsonl:1:");
  expect_error("", "no train or valid records");
  EXPECT_THROW(read_run_curves(dir.file("missing")), std::invalid_argument);
}

TEST(TrainingCurves, SvgHasEveryPanelAndOneLinePerRunAndPanel) {
  TempDir dir;
  std::vector<RunCurves> runs = {read_run_curves(write_log(dir, "blockwise", kLog)),
                                 read_run_curves(write_log(dir, "deep", kLog), "deep-pyramidion")};
  const std::string svg = render_training_curves_svg(runs, "SumPubMed");
  const std::regex panel("<g class=\"panel\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(svg.begin(), svg.end(), panel), std::sregex_iterator()), 12);
  const std::regex line("<polyline data-series=\"deep-pyramidion\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(svg.begin(), svg.end(), line), std::sregex_iterator()), 12);
  EXPECT_NE(svg.find("training wall time (minutes)"), std::string::npos);
  EXPECT_NE(svg.find("validation ROUGE-Lsum"), std::string::npos);
  const std::string html = render_training_curves_html(runs, "SumPubMed");
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
  EXPECT_NE(html.find("<td>deep-pyramidion</td><td>30</td><td>3.0</td>"), std::string::npos) << html.substr(0, 2000);
  EXPECT_NE(html.find("25.00 <small>(update 30)</small>"), std::string::npos);  // best ROUGE-1
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace pyramidion

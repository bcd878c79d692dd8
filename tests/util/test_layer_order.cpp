// The library's layer order, checked on the sources themselves: util (plot beside it) -> ops -> nn, data -> models
// -> decoding -> explain, eval -> evaluation -> training -> benchmark. A header or source of one layer includes its
// own layer and those below it only (peers such as nn and data, or explain and eval, never include each other).
// eval is text in, numbers out and plot numbers in, pictures out: no tensors at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "test_support.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, int>& layer_ranks() {
  // spm: the SentencePiece C-ABI library loaded in its own namespace (dlmopen) by data/, beside util at the bottom.
  // plot: SVG charts and pages from plain numbers (the benchmark's and `pyramidion plot`'s), on util only.
  // explain: the highlight view (what the poolers kept), on decoding. evaluation: a model run over a corpus and
  // scored (the CLI's `evaluate`, the demo, the trainer's validation), on decoding and eval.
  static const std::map<std::string, int> ranks = {
      {"util", 0},     {"spm", 0},     {"plot", 1}, {"ops", 1},        {"nn", 2},       {"data", 2},     {"models", 3},
      {"decoding", 4}, {"explain", 5}, {"eval", 5}, {"evaluation", 6}, {"training", 7}, {"benchmark", 8}};
  return ranks;
}

struct Include {
  fs::path file;
  int line;
  std::string target;  // the text between the quotes or brackets
};

std::vector<Include> includes_of(const fs::path& dir) {
  std::vector<Include> found;
  if (!fs::exists(dir)) return found;
  static const std::regex include_line(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cpp" && ext != ".cu") continue;
    std::ifstream in(entry.path());
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      std::smatch m;
      if (std::regex_search(line, m, include_line)) found.push_back({entry.path(), number, m[1].str()});
    }
  }
  return found;
}

// "pyramidion/models/x.h" -> "models"; "" for anything else.
std::string layer_of_include(const std::string& target) {
  const std::string prefix = "pyramidion/";
  if (target.rfind(prefix, 0) != 0) return "";
  const auto slash = target.find('/', prefix.size());
  return slash == std::string::npos ? "" : target.substr(prefix.size(), slash - prefix.size());
}

TEST(LayerOrder, EveryLayerIncludesOnlyItselfAndTheLayersBelow) {
  const fs::path root = testing::source_dir();
  std::vector<std::string> violations;
  for (const auto& [layer, rank] : layer_ranks()) {
    for (const fs::path& dir : {root / "include/pyramidion" / layer, root / "src" / layer}) {
      for (const auto& inc : includes_of(dir)) {
        const std::string target_layer = layer_of_include(inc.target);
        if (target_layer.empty() || target_layer == layer) continue;
        const auto it = layer_ranks().find(target_layer);
        const bool allowed = it != layer_ranks().end() && it->second < rank;
        if (!allowed)
          violations.push_back(fs::relative(inc.file, root).string() + ":" + std::to_string(inc.line) + " (" + layer +
                               ") includes " + inc.target);
      }
    }
  }
  std::string report;
  for (const auto& v : violations) report += "\n  " + v;
  EXPECT_TRUE(violations.empty()) << "layer order violations:" << report;
}

// eval (text in, numbers out) and plot (numbers in, pictures out) use no tensors and nothing above util.
TEST(LayerOrder, EvalAndPlotUseNoTensors) {
  const fs::path root = testing::source_dir();
  std::vector<std::string> violations;
  for (const char* layer : {"eval", "plot"}) {
    for (const fs::path& dir : {root / "include/pyramidion" / layer, root / "src" / layer}) {
      for (const auto& inc : includes_of(dir)) {
        const std::string target_layer = layer_of_include(inc.target);
        const bool torch =
            inc.target.rfind("torch/", 0) == 0 || inc.target.rfind("ATen/", 0) == 0 || inc.target.rfind("c10/", 0) == 0;
        if (torch || (!target_layer.empty() && target_layer != layer && target_layer != "util"))
          violations.push_back(fs::relative(inc.file, root).string() + ":" + std::to_string(inc.line) + " includes " +
                               inc.target);
      }
    }
  }
  std::string report;
  for (const auto& v : violations) report += "\n  " + v;
  EXPECT_TRUE(violations.empty()) << "eval/ and plot/ must not depend on tensors or on the layers above util:"
                                  << report;
}

TEST(LayerOrder, TheLibraryNeverReachesTheCommandLine) {
  const fs::path root = testing::source_dir();
  for (const auto& [layer, rank] : layer_ranks())
    for (const fs::path& dir : {root / "include/pyramidion" / layer, root / "src" / layer})
      for (const auto& inc : includes_of(dir))
        EXPECT_EQ(inc.target.find("cli/"), std::string::npos) << inc.file << ":" << inc.line << " " << inc.target;
}

// Every folder of src/ and include/pyramidion/ has its place: a library layer above, or a front end (cli, server)
// that may use every layer; a new folder must be added here, so the order never silently skips it.
TEST(LayerOrder, EveryFolderIsALayerOrAFrontEnd) {
  const fs::path root = testing::source_dir();
  const std::vector<std::string> front_ends = {"cli", "server", "python"};
  for (const fs::path& base : {root / "src", root / "include/pyramidion"}) {
    for (const auto& entry : fs::directory_iterator(base)) {
      if (!entry.is_directory()) continue;
      const std::string name = entry.path().filename().string();
      const bool known =
          layer_ranks().count(name) > 0 || std::find(front_ends.begin(), front_ends.end(), name) != front_ends.end();
      EXPECT_TRUE(known) << fs::relative(entry.path(), root).string() << ": a folder in no layer of this test";
    }
  }
}

// The server is a front end beside the command line: it uses the library, never the CLI's files.
TEST(LayerOrder, TheServerIsAFrontEndBesideTheCommandLine) {
  const fs::path root = testing::source_dir();
  for (const auto& inc : includes_of(root / "src/server"))
    EXPECT_EQ(inc.target.rfind("cli/", 0), std::string::npos) << inc.file << ":" << inc.line << " " << inc.target;
}

}  // namespace
}  // namespace pyramidion

// `pyramidion plot RUN_DIR... [-o curves.svg|curves.html]`: learning curves of one or more training runs (loss,
// learning rate, validation loss and ROUGE against updates and training wall time) from their metrics.jsonl.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "command.h"
#include "output_paths.h"
#include "pyramidion/plot/training_curves.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion::cli {
namespace {

struct PlotOptions {
  std::vector<std::string> runs;
  std::vector<std::string> names;
  std::string output;
  std::string title = "training curves";
};

void run(const PlotOptions& o) {
  if (!o.names.empty() && o.names.size() != o.runs.size())
    throw CommandError("--name: give one name per run (" + std::to_string(o.runs.size()) + " runs, " +
                       std::to_string(o.names.size()) + " names)");
  std::vector<RunCurves> runs;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < o.runs.size(); ++i) {
    try {
      runs.push_back(read_run_curves(o.runs[i], o.names.empty() ? "" : o.names[i]));
    } catch (const std::exception& e) {
      throw CommandError(e.what());
    }
    inputs.push_back(runs.back().path);
  }
  const std::string extension = std::filesystem::path(o.output).extension().string();
  const bool html = extension == ".html" || extension == ".htm";
  if (!o.output.empty() && !html && extension != ".svg")
    throw CommandError("-o " + o.output + ": expected a .svg or .html file");
  const std::string text =
      html ? render_training_curves_html(runs, o.title) : render_training_curves_svg(runs, o.title);
  if (o.output.empty()) {
    std::cout << text;
    return;
  }
  refuse_output_over_input(o.output, inputs);
  write_file_atomically(o.output, text);
  spdlog::info("wrote {} ({} runs)", o.output, runs.size());
}

}  // namespace

PYRAMIDION_COMMAND("plot", [](CLI::App& app) {
  auto o = std::make_shared<PlotOptions>();
  auto* cmd = app.add_subcommand("plot", "learning curves of training runs (SVG or HTML)");
  cmd->add_option("runs", o->runs, "run directories (--save-dir of `train`) or metrics.jsonl files")->required();
  cmd->add_option("--name", o->names, "legend name per run (default: the directory name)");
  cmd->add_option("-o,--output", o->output, "curves.svg or curves.html (default: SVG on stdout)");
  cmd->add_option("--title", o->title, "title of the picture")->capture_default_str();
  cmd->callback([o] { run(*o); });
});

}  // namespace pyramidion::cli

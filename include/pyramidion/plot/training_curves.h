#pragma once
// Learning curves of training runs from their metrics.jsonl (training/training_log.h): training loss, learning
// rate, validation loss and ROUGE against updates and against training wall time, several runs in one picture
// (plot/svg_plot.h). `pyramidion plot` writes them as SVG or as an HTML page with a summary table.
#include <string>
#include <vector>

namespace pyramidion {

struct CurvePoint {
  double update = 0;
  double elapsed_s = 0;  // training wall time at that update (NaN when the log has none)
  double value = 0;
};

struct RunCurves {
  std::string name;  // legend entry (the run directory's name unless given)
  std::string path;  // the metrics.jsonl read
  std::vector<CurvePoint> train_loss, learning_rate, valid_loss, rouge1, rouge2, rougeLsum;
};

// Reads RUN_DIR/metrics.jsonl (or a metrics.jsonl path). A line that is not a JSON object, or a record without
// its numbers, throws std::invalid_argument "<file>:<line>: <what>"; unknown record kinds are ignored.
RunCurves read_run_curves(const std::string& run_dir_or_file, const std::string& name = "");

enum class CurveAxis { updates, wall_time };

// One SVG: a row per quantity (train loss, lr, valid loss, ROUGE-1, ROUGE-2, ROUGE-Lsum), a column per x axis.
std::string render_training_curves_svg(const std::vector<RunCurves>& runs, const std::string& title);

// A self-contained HTML page: the SVG and a table of each run's last and best numbers.
std::string render_training_curves_html(const std::vector<RunCurves>& runs, const std::string& title);

}  // namespace pyramidion

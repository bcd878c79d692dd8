#include "pyramidion/plot/training_curves.h"

#include "pyramidion/util/markup_escape.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "pyramidion/plot/svg_plot.h"
#include "pyramidion/util/json_depth.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

double number(const nlohmann::json& record, const char* key, const std::string& where, bool required) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) {
    if (required) throw std::invalid_argument(where + ": \"" + key + "\" is missing");
    return kMissing;
  }
  if (!it->is_number()) throw std::invalid_argument(where + ": \"" + key + "\" must be a number");
  return it->get<double>();
}

// Wall time of validation records from logs written before they carried it: the last train record's.
double elapsed_at(const std::vector<CurvePoint>& train, double update) {
  double elapsed = kMissing;
  for (const auto& p : train)
    if (p.update <= update) elapsed = p.elapsed_s;
  return elapsed;
}

SvgSeries series_of(const RunCurves& run, const std::vector<CurvePoint>& points, CurveAxis axis, double scale) {
  SvgSeries s;
  s.name = run.name;
  for (const auto& p : points) {
    s.x.push_back(axis == CurveAxis::updates ? p.update : p.elapsed_s / 60.0);
    s.y.push_back(p.value * scale);
  }
  return s;
}

struct Quantity {
  const char* title;
  const char* y_label;
  std::vector<CurvePoint> RunCurves::*points;
  bool log_y;
  double scale;
};

const std::vector<Quantity>& quantities() {
  static const std::vector<Quantity> list = {
      {"training loss", "label-smoothed loss / token", &RunCurves::train_loss, true, 1.0},
      {"learning rate", "lr", &RunCurves::learning_rate, true, 1.0},
      {"validation loss", "loss / token", &RunCurves::valid_loss, true, 1.0},
      {"validation ROUGE-1", "F1 x 100", &RunCurves::rouge1, false, 100.0},
      {"validation ROUGE-2", "F1 x 100", &RunCurves::rouge2, false, 100.0},
      {"validation ROUGE-Lsum", "F1 x 100", &RunCurves::rougeLsum, false, 100.0},
  };
  return list;
}

std::string cell(const std::vector<CurvePoint>& points, bool last, bool maximize, double scale) {
  if (points.empty()) return "&ndash;";
  const CurvePoint* chosen = &points.back();
  if (!last)
    for (const auto& p : points)
      if (std::isfinite(p.value) && (maximize ? p.value > chosen->value : p.value < chosen->value)) chosen = &p;
  return fmt::format("{:.{}f} <small>(update {:.0f})</small>", chosen->value * scale, scale > 1 ? 2 : 4,
                     chosen->update);
}

}  // namespace

RunCurves read_run_curves(const std::string& run_dir_or_file, const std::string& name) {
  const fs::path path =
      fs::is_directory(run_dir_or_file) ? fs::path(run_dir_or_file) / "metrics.jsonl" : fs::path(run_dir_or_file);
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path.string() + ": cannot read (expected a run directory with metrics.jsonl)");
  RunCurves run;
  run.path = path.string();
  run.name = !name.empty()                       ? name
             : fs::is_directory(run_dir_or_file) ? fs::path(run_dir_or_file).lexically_normal().filename().string()
                                                 : path.parent_path().filename().string();
  if (run.name.empty() || run.name == ".") run.name = fs::absolute(path).parent_path().filename().string();
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(line_number);
    if (!json_depth_ok(line)) throw std::invalid_argument(where + ": " + json_depth_message());
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) throw std::invalid_argument(where + ": not a JSON object");
    const auto kind = record.find("kind");
    if (kind == record.end() || !kind->is_string()) throw std::invalid_argument(where + ": \"kind\" is missing");
    const double update = number(record, "update", where, true);
    if (*kind == "train") {
      const double elapsed = number(record, "elapsed_s", where, false);
      run.train_loss.push_back({update, elapsed, number(record, "loss", where, true)});
      run.learning_rate.push_back({update, elapsed, number(record, "lr", where, true)});
    } else if (*kind == "valid") {
      double elapsed = number(record, "elapsed_s", where, false);
      if (!std::isfinite(elapsed)) elapsed = elapsed_at(run.train_loss, update);
      run.valid_loss.push_back({update, elapsed, number(record, "loss", where, true)});
      if (record.contains("rouge1")) {
        run.rouge1.push_back({update, elapsed, number(record, "rouge1", where, true)});
        run.rouge2.push_back({update, elapsed, number(record, "rouge2", where, true)});
        run.rougeLsum.push_back({update, elapsed, number(record, "rougeLsum", where, true)});
      }
    }
  }
  if (run.train_loss.empty() && run.valid_loss.empty())
    throw std::invalid_argument(path.string() + ": no train or valid records");
  return run;
}

std::string render_training_curves_svg(const std::vector<RunCurves>& runs, const std::string& title) {
  SvgPlotOptions options;
  options.columns = 2;
  SvgLinePlot plot(title, options);
  for (const auto& q : quantities()) {
    for (const CurveAxis axis : {CurveAxis::updates, CurveAxis::wall_time}) {
      SvgPanel panel;
      panel.title = q.title;
      panel.x_label = axis == CurveAxis::updates ? "updates" : "training wall time (minutes)";
      panel.y_label = q.y_label;
      panel.log2_x = false;
      panel.log10_y = q.log_y;
      for (const auto& run : runs) panel.series.push_back(series_of(run, run.*(q.points), axis, q.scale));
      plot.add_panel(std::move(panel));
    }
  }
  return plot.render();
}

std::string render_training_curves_html(const std::vector<RunCurves>& runs, const std::string& title) {
  std::string rows;
  for (const auto& run : runs) {
    const double minutes = run.train_loss.empty() ? kMissing : run.train_loss.back().elapsed_s / 60.0;
    rows += fmt::format(
        "<tr><td>{}</td><td>{:.0f}</td><td>{:.1f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        markup_escape(run.name), run.train_loss.empty() ? 0.0 : run.train_loss.back().update, minutes,
        cell(run.train_loss, true, false, 1.0), cell(run.valid_loss, false, false, 1.0),
        cell(run.rouge1, false, true, 100.0), cell(run.rouge2, false, true, 100.0),
        cell(run.rougeLsum, false, true, 100.0));
  }
  return fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:16px 0}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
small{{color:#777}}</style></head>
<body><h1>{0}</h1>
<table id="runs"><tr><th>run</th><th>updates</th><th>minutes</th><th>last training loss</th><th>best validation loss</th>
<th>best ROUGE-1</th><th>best ROUGE-2</th><th>best ROUGE-Lsum</th></tr>
{1}</table>
{2}
</body></html>
)",
                     markup_escape(title), rows, render_training_curves_svg(runs, title));
}

}  // namespace pyramidion

#include "pyramidion/plot/svg_plot.h"

#include "pyramidion/util/markup_escape.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace pyramidion {
namespace {

// Distinguishable on white, also for the common colour-vision deficiencies (Okabe-Ito order).
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr int kMarginLeft = 72, kMarginRight = 16, kMarginTop = 40, kMarginBottom = 46;
constexpr int kTitleHeight = 34, kLegendHeight = 28;

struct Axis {
  double lo = 0, hi = 1;  // in transformed units (log2, log10 or linear)
  bool log = false;
  double base = 10;
  double transform(double v) const { return log ? std::log(v) / std::log(base) : v; }
};

std::string number(double v) {
  if (v != 0 && (std::fabs(v) >= 1e6 || std::fabs(v) < 1e-3)) return fmt::format("{:.0e}", v);
  const double a = std::fabs(v);
  std::string s = fmt::format("{:.{}f}", v, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// Values in the panel that the axis can show (positive on a log axis).
std::vector<double> usable(const SvgPanel& panel, bool for_x, bool log) {
  std::vector<double> out;
  for (const auto& s : panel.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      const double v = for_x ? s.x[i] : s.y[i];
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (log && v <= 0) continue;
      out.push_back(v);
    }
  }
  return out;
}

// Tick values (untransformed) for the data range [lo, hi]; widens the axis to the outer ticks where sensible.
std::vector<double> make_ticks(double lo, double hi, bool log, double base, Axis& axis) {
  std::vector<double> ticks;
  axis.log = log;
  axis.base = base;
  if (log && base == 2) {
    const int a = static_cast<int>(std::floor(std::log2(lo) + 1e-9)),
              b = static_cast<int>(std::ceil(std::log2(hi) - 1e-9));
    for (int e = a; e <= std::max(a, b); ++e) ticks.push_back(std::ldexp(1.0, e));
    axis.lo = a;
    axis.hi = std::max(a + 1, b);
    if (b <= a) ticks.push_back(std::ldexp(1.0, a + 1));
    return ticks;
  }
  if (log) {
    const int a = static_cast<int>(std::floor(std::log10(lo))), b = static_cast<int>(std::ceil(std::log10(hi)));
    // Pad the axis a little beyond the data.
    axis.lo = std::log10(lo) - 0.05 * std::max(0.3, std::log10(hi / lo));
    axis.hi = std::log10(hi) + 0.05 * std::max(0.3, std::log10(hi / lo));
    const double shown_lo = std::pow(10.0, axis.lo), shown_hi = std::pow(10.0, axis.hi);
    // Mantissas 1 (wide ranges), 1-2-5, or 1..9 (narrow ranges), whichever first gives at least two ticks.
    const std::vector<std::vector<double>> mantissas = {
        (b - a) > 4 ? std::vector<double>{1} : std::vector<double>{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    for (const auto& set : mantissas) {
      ticks.clear();
      for (int e = a - 1; e <= b; ++e)
        for (double m : set) {
          const double v = m * std::pow(10.0, e);
          if (v >= shown_lo && v <= shown_hi) ticks.push_back(v);
        }
      if (ticks.size() >= 2) return ticks;
    }
    // Narrower still: evenly spaced round values.
    Axis linear;
    ticks.clear();
    for (double v : make_ticks(shown_lo, shown_hi, false, 10, linear))
      if (v >= shown_lo && v <= shown_hi) ticks.push_back(v);
    axis.log = true;
    return ticks;
  }
  if (hi <= lo) hi = lo + 1;
  const double raw = (hi - lo) / 5, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  axis.lo = std::floor(lo / step) * step;
  axis.hi = std::ceil(hi / step) * step;
  for (double v = axis.lo; v <= axis.hi + step / 2; v += step) ticks.push_back(v);
  return ticks;
}

std::string tick_label(double v, bool log2_axis) {
  if (log2_axis && v >= 1024 && std::fmod(v, 1024) == 0) return number(v / 1024) + "k";
  return number(v);
}

}  // namespace

SvgLinePlot::SvgLinePlot(std::string title, SvgPlotOptions options) : title_(std::move(title)), options_(options) {}

SvgPanel& SvgLinePlot::add_panel(SvgPanel panel) {
  panels_.push_back(std::move(panel));
  return panels_.back();
}

std::string SvgLinePlot::render() const {
  // Legend: every series name once, in first-seen order; colours follow it.
  std::vector<std::string> names;
  for (const auto& p : panels_)
    for (const auto& s : p.series)
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
  auto colour = [&](const std::string& name) {
    const auto i = static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    return kColours[i % (sizeof(kColours) / sizeof(kColours[0]))];
  };

  const int columns =
      std::max(1, std::min<int>(options_.columns, static_cast<int>(std::max<size_t>(1, panels_.size()))));
  const int rows = static_cast<int>((panels_.size() + columns - 1) / columns);
  const int width = columns * options_.panel_width,
            height = kTitleHeight + kLegendHeight + rows * options_.panel_height;
  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
      width, height);
  out += fmt::format("<title>{}</title>\n", markup_escape(title_));
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"white\"/>\n", width, height);
  out += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                     width / 2, markup_escape(title_));

  // Legend row, centred.
  {
    const int item = 150;
    int x = std::max(8, (width - static_cast<int>(names.size()) * item) / 2);
    out += "<g class=\"legend\">\n";
    for (const auto& name : names) {
      const int y = kTitleHeight + 14;
      out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"/>", x, y,
                         x + 24, y, colour(name));
      out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"/>", x + 12, y, colour(name));
      out += fmt::format("<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>\n", x + 30, y + 1,
                         markup_escape(name));
      x += item;
    }
    out += "</g>\n";
  }

  for (size_t index = 0; index < panels_.size(); ++index) {
    const SvgPanel& panel = panels_[index];
    const int ox = static_cast<int>(index % columns) * options_.panel_width;
    const int oy = kTitleHeight + kLegendHeight + static_cast<int>(index / columns) * options_.panel_height;
    const double left = ox + kMarginLeft, right = ox + options_.panel_width - kMarginRight;
    const double top = oy + kMarginTop, bottom = oy + options_.panel_height - kMarginBottom;
    out += fmt::format("<g class=\"panel\" id=\"panel-{}\">\n", index);
    out +=
        fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                    (left + right) / 2, oy + 18, markup_escape(panel.title));
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left,
                       top, right - left, bottom - top);
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (left + right) / 2, bottom + 36,
                       markup_escape(panel.x_label));
    // The y label sits above the axis, horizontal: rotated text is not drawn by every SVG renderer.
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#333\">{}</text>\n", ox + 8, top - 13,
                       markup_escape(panel.y_label));

    const auto xs = usable(panel, true, panel.log2_x), ys = usable(panel, false, panel.log10_y);
    if (xs.empty() || ys.empty()) {
      out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
                         (left + right) / 2, (top + bottom) / 2);
    }
    Axis ax, ay;
    std::vector<double> xticks, yticks;
    if (!xs.empty() && !ys.empty()) {
      xticks = make_ticks(*std::min_element(xs.begin(), xs.end()), *std::max_element(xs.begin(), xs.end()),
                          panel.log2_x, 2, ax);
      const double ymin = *std::min_element(ys.begin(), ys.end());
      yticks = make_ticks(panel.log10_y ? ymin : std::min(0.0, ymin), *std::max_element(ys.begin(), ys.end()),
                          panel.log10_y, 10, ay);  // linear y axes start at zero
    }
    auto px = [&](double v) { return left + (ax.transform(v) - ax.lo) / (ax.hi - ax.lo) * (right - left); };
    auto py = [&](double v) { return bottom - (ay.transform(v) - ay.lo) / (ay.hi - ay.lo) * (bottom - top); };
    for (double t : xticks) {
      const double x = px(t);
      out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>", x, top, bottom);
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, bottom + 16,
                         tick_label(t, panel.log2_x));
    }
    for (double t : yticks) {
      const double y = py(t);
      out += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#ddd\"/>", y, left, right);
      out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
                         left - 6, y, number(t));
    }
    for (const auto& s : panel.series) {
      std::string points, markers;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        if ((panel.log2_x && s.x[i] <= 0) || (panel.log10_y && s.y[i] <= 0)) continue;
        points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(s.x[i]), py(s.y[i]));
        markers += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>", px(s.x[i]), py(s.y[i]),
                               colour(s.name));
      }
      out +=
          fmt::format("<polyline data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>{}\n",
                      markup_escape(s.name), colour(s.name), points, markers);
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace pyramidion

#pragma once
// Line charts as standalone SVG (no dependencies; any browser shows them): a grid of panels sharing one legend,
// one polyline per series and panel, a marker at each point. Missing points (NaN y) are left out of the line.
//
//   SvgLinePlot plot("Training step vs input length");
//   auto& panel = plot.add_panel({"training", "input tokens", "ms / step"});
//   panel.series.push_back({"blockwise", {1024, 2048}, {10, 20}});
//   std::string svg = plot.render();
#include <string>
#include <vector>

namespace pyramidion {

struct SvgSeries {
  std::string name;       // legend entry; the same name has the same colour in every panel
  std::vector<double> x;  // > 0 on a log axis
  std::vector<double> y;  // NaN = no value at this x
};

struct SvgPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log2_x = true;   // ticks at the powers of two of the data's range
  bool log10_y = true;  // ticks at 1, 2, 5 x 10^k
  std::vector<SvgSeries> series;
};

struct SvgPlotOptions {
  int columns = 2;
  int panel_width = 460;
  int panel_height = 320;
};

class SvgLinePlot {
 public:
  explicit SvgLinePlot(std::string title, SvgPlotOptions options = {});

  SvgPanel& add_panel(SvgPanel panel);  // the reference stays valid until the next add_panel
  std::vector<SvgPanel>& panels() { return panels_; }

  std::string render() const;  // a complete SVG document

 private:
  std::string title_;
  SvgPlotOptions options_;
  std::vector<SvgPanel> panels_;
};

}  // namespace pyramidion

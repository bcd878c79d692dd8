// Line charts as SVG (plot/svg_plot.h): markup in titles and names is escaped, missing points leave the line.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "pyramidion/plot/svg_plot.h"
#include "well_formed_xml.h"

namespace pyramidion {
namespace {

TEST(SvgLinePlot, EscapesAndSkipsMissingPoints) {
  SvgLinePlot plot("a < b & c");
  SvgPanel panel{"p", "x", "y", true, true, {}};
  panel.series.push_back({"s\"1", {1024, 2048, 4096}, {1.0, std::nan(""), 3.0}});
  plot.add_panel(panel);
  const std::string svg = plot.render();
  EXPECT_TRUE(testing::well_formed_xml(svg));
  EXPECT_NE(svg.find("a &lt; b &amp; c"), std::string::npos);
  EXPECT_EQ(testing::count_of(svg, "<polyline"), 1u);
  EXPECT_EQ(testing::count_of(svg, "<circle cx"), 2u + 1u);  // two points + the legend marker
  EXPECT_NE(svg.find(">2k<"), std::string::npos);            // log2 x ticks
  EXPECT_FALSE(testing::well_formed_xml("<svg><g></svg>"));
}

}  // namespace
}  // namespace pyramidion

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "pyramidion/util/progress.h"
#include "pyramidion/util/thread_pool.h"

using pyramidion::ProgressBar;
using pyramidion::ProgressOptions;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(ProgressBar, PlainLinesWhenNotATerminal) {
  std::ostringstream out;
  ProgressOptions options;
  options.label = "prepare train";
  options.unit = "docs";
  options.total = 4;
  options.mode = ProgressOptions::Mode::kLines;
  options.log_interval_s = 0;  // a line per advance
  options.stream = &out;
  {
    ProgressBar bar(options);
    bar.set_field("loss", 3.21, 3);
    bar.set_field("lr", "1e-4");
    bar.advance();
    bar.set_field("loss", "2.5");  // updated in place, order kept
    bar.advance(3);
  }  // the destructor prints the final line
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_EQ(lines[0].rfind("prepare train: 1/4 docs 25.0% ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" docs/s eta "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("| loss 3.21 lr 1e-4"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("prepare train: 4/4 docs 100.0% ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("| loss 2.5 lr 1e-4"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("prepare train: 4/4 docs 100.0% ", 0), 0u) << lines[2];
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
  EXPECT_EQ(out.str().find('\033'), std::string::npos);
}

TEST(ProgressBar, IntervalLimitsLinesAndUnknownTotal) {
  std::ostringstream out;
  ProgressOptions options;
  options.unit = "updates";
  options.mode = ProgressOptions::Mode::kLines;
  options.log_interval_s = 3600;
  options.stream = &out;
  ProgressBar bar(options);
  for (int i = 0; i < 1000; ++i) bar.advance();
  EXPECT_EQ(out.str(), "");  // nothing due within the interval
  EXPECT_EQ(bar.status_line().rfind("1000 updates ", 0), 0u) << bar.status_line();
  EXPECT_EQ(bar.status_line().find('%'), std::string::npos);
  bar.finish();
  bar.finish();  // once only
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("elapsed"), std::string::npos);
}

TEST(ProgressBar, TerminalBarRedrawsOneLine) {
  std::ostringstream out;
  ProgressOptions options;
  options.label = "x";
  options.total = 10;
  options.mode = ProgressOptions::Mode::kBar;
  options.redraw_interval_s = 0;
  options.width = 10;
  options.stream = &out;
  ProgressBar bar(options);
  bar.advance(5);
  bar.finish();
  std::string text = out.str();
  EXPECT_NE(text.find("\rx: [#####.....] 5/10"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(ProgressBar, ConcurrentAdvanceCountsEverything) {
  std::ostringstream out;
  ProgressOptions options;
  options.mode = ProgressOptions::Mode::kLines;
  options.log_interval_s = 0;
  options.stream = &out;
  ProgressBar bar(options);
  pyramidion::ThreadPool pool(4);
  pool.parallel_for(4000, [&](size_t) { bar.advance(); });
  EXPECT_EQ(bar.count(), 4000);
  for (const auto& line : lines_of(out.str())) EXPECT_EQ(line.find("it"), line.find(' ') + 1) << line;
}

TEST(ProgressBar, FormatDuration) {
  EXPECT_EQ(pyramidion::format_duration(62), "1:02");
  EXPECT_EQ(pyramidion::format_duration(3723), "1:02:03");
  EXPECT_EQ(pyramidion::format_duration(-1), "?");
}

TEST(ThreadPool, RunsEveryIndexOnceAndRethrows) {
  pyramidion::ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  for (int round = 0; round < 5; ++round) pool.parallel_for(hits.size(), [&](size_t i) { ++hits[i]; });
  for (auto& hit : hits) EXPECT_EQ(hit.load(), 5);
  EXPECT_THROW(pool.parallel_for(100,
                                 [](size_t i) {
                                   if (i == 42) throw std::runtime_error("boom");
                                 }),
               std::runtime_error);
  std::atomic<int> after{0};
  pool.parallel_for(10, [&](size_t) { ++after; });  // still usable
  EXPECT_EQ(after.load(), 10);
}

#pragma once
// Progress reporting for long loops (data preparation, training, decoding, benchmarks). On a terminal: one
// line redrawn in place; otherwise (logs, CI) a plain line every `log_interval_s` seconds. Other writes to the
// terminal go through write_above_progress() (the CLI's log sink does): the bar is cleared, the text written and
// the bar redrawn below it, so a log line never shares the bar's line.
//
//   ProgressOptions options;
//   options.label = "train"; options.unit = "updates"; options.total = 1000;
//   ProgressBar bar(options);
//   bar.set_field("loss", "3.21");
//   bar.advance();
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pyramidion {

struct ProgressOptions {
  std::string label;        // printed first, e.g. "prepare train"
  std::string unit = "it";  // rate unit: "docs", "updates", ...
  int64_t total = -1;       // -1 = unknown (no percentage or ETA)
  enum class Mode { kAuto, kBar, kLines, kOff };
  Mode mode = Mode::kAuto;     // kAuto: kBar when the stream is std::cerr and stderr is a terminal
  double log_interval_s = 10;  // kLines: seconds between lines (0 = every advance)
  double redraw_interval_s = 0.1;
  std::ostream* stream = nullptr;  // nullptr = std::cerr
  int width = 30;                  // bar characters
};

class ProgressBar {
 public:
  explicit ProgressBar(ProgressOptions options);
  ~ProgressBar();  // calls finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Thread-safe; cheap when nothing is due to print.
  void advance(int64_t n = 1);
  void set_total(int64_t total);
  // Free-form fields shown after the rate, in first-set order ("loss 3.21 lr 1e-4"). Thread-safe.
  void set_field(const std::string& name, const std::string& value);
  void set_field(const std::string& name, double value, int precision = 4);
  // Prints the final state once (a last line, or the bar completed with a newline).
  void finish();

  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  double elapsed_seconds() const;
  // The status text without bar or terminal control: "label: 12/100 docs 12.0% 3.4 docs/s eta 0:00:26 | loss 3.2".
  std::string status_line() const;

 private:
  friend void write_above_progress(const std::function<void()>& write);
  void maybe_print(bool force);
  std::string render_locked(bool with_bar) const;

  using Mode = ProgressOptions::Mode;
  ProgressOptions options_;
  Mode mode_;
  std::ostream& out_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> total_;
  std::atomic<int64_t> next_print_ns_{0};  // since start_
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> fields_;
  bool finished_ = false;
};

// Writes to the terminal above the active progress bar: clears the bar's line, calls write() (which writes whole
// lines to stderr), then redraws the bar. Without an active bar only the write. Thread-safe.
void write_above_progress(const std::function<void()>& write);
inline void write_above_progress(const std::string& text) {
  write_above_progress([&] { std::cerr << text << std::flush; });
}

// "1:02:03" / "2:03"; "?" for negative or non-finite seconds.
std::string format_duration(double seconds);

}  // namespace pyramidion

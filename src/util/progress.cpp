#include "pyramidion/util/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace pyramidion {
namespace {

// The terminal's status line: the one bar drawn on it (bar mode) and the lock every terminal write takes first.
std::mutex terminal_mutex;
ProgressBar* active_bar = nullptr;  // guarded by terminal_mutex

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<int64_t>(seconds + 0.5);
  char buffer[64];
  if (total >= 3600)
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  else
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  return buffer;
}

ProgressBar::ProgressBar(ProgressOptions options)
    : options_(std::move(options)),
      mode_(options_.mode),
      out_(options_.stream ? *options_.stream : std::cerr),
      start_(std::chrono::steady_clock::now()),
      total_(options_.total) {
  if (mode_ == Mode::kAuto) mode_ = (&out_ == &std::cerr && ::isatty(STDERR_FILENO)) ? Mode::kBar : Mode::kLines;
  // Lines: the first one after an interval, not at zero. Bar: drawn at once.
  double first = mode_ == Mode::kLines ? options_.log_interval_s : 0.0;
  next_print_ns_ = static_cast<int64_t>(first * 1e9);
  if (mode_ == Mode::kBar) {
    {
      std::lock_guard<std::mutex> terminal(terminal_mutex);
      active_bar = this;  // a nested bar takes the line; the outer one is redrawn when it next advances
    }
    maybe_print(true);
  }
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {
  }
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::advance(int64_t n) {
  count_.fetch_add(n, std::memory_order_relaxed);
  maybe_print(false);
}

void ProgressBar::set_total(int64_t total) { total_.store(total, std::memory_order_relaxed); }

void ProgressBar::set_field(const std::string& name, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& field : fields_) {
    if (field.first == name) {
      field.second = value;
      return;
    }
  }
  fields_.emplace_back(name, value);
}

void ProgressBar::set_field(const std::string& name, double value, int precision) {
  std::ostringstream text;
  text.precision(precision);
  text << value;
  set_field(name, text.str());
}

void ProgressBar::maybe_print(bool force) {
  if (mode_ == Mode::kOff) return;
  auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  if (!force && now_ns < next_print_ns_.load(std::memory_order_relaxed)) return;
  // Terminal first, then the bar: the same order as write_above_progress.
  std::unique_lock<std::mutex> terminal(terminal_mutex, std::defer_lock);
  if (mode_ == Mode::kBar) {
    if (force)
      terminal.lock();
    else if (!terminal.try_lock())
      return;
    active_bar = this;
  }
  std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
  if (force)
    lock.lock();
  else if (!lock.try_lock())
    return;  // another thread is printing this very moment
  if (finished_) return;
  double interval = mode_ == Mode::kBar ? options_.redraw_interval_s : options_.log_interval_s;
  next_print_ns_.store(now_ns + static_cast<int64_t>(interval * 1e9), std::memory_order_relaxed);
  if (mode_ == Mode::kBar)
    out_ << '\r' << render_locked(true) << "\033[K" << std::flush;
  else
    out_ << render_locked(false) << '\n' << std::flush;
}

void ProgressBar::finish() {
  if (mode_ == Mode::kOff) return;
  std::unique_lock<std::mutex> terminal(terminal_mutex, std::defer_lock);
  if (mode_ == Mode::kBar) terminal.lock();
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_bar == this) active_bar = nullptr;
  if (finished_) return;
  finished_ = true;
  if (mode_ == Mode::kBar)
    out_ << '\r' << render_locked(true) << "\033[K\n" << std::flush;
  else
    out_ << render_locked(false) << '\n' << std::flush;
}

void write_above_progress(const std::function<void()>& write) {
  std::lock_guard<std::mutex> terminal(terminal_mutex);
  ProgressBar* bar = active_bar;
  std::unique_lock<std::mutex> lock;
  if (bar) {
    lock = std::unique_lock<std::mutex>(bar->mutex_);
    if (bar->finished_) bar = nullptr;
  }
  if (bar) bar->out_ << "\r\033[K" << std::flush;
  write();
  if (bar) bar->out_ << bar->render_locked(true) << "\033[K" << std::flush;
}

std::string ProgressBar::status_line() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return render_locked(/*with_bar=*/false);
}

std::string ProgressBar::render_locked(bool with_bar) const {
  const int64_t count = count_.load(std::memory_order_relaxed);
  const int64_t total = total_.load(std::memory_order_relaxed);
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? count / elapsed : 0.0;
  std::string line = options_.label.empty() ? "" : options_.label + ": ";
  if (with_bar && total > 0) {
    int filled = static_cast<int>(options_.width * std::min<double>(1.0, static_cast<double>(count) / total));
    line += "[" + std::string(filled, '#') + std::string(options_.width - filled, '.') + "] ";
  }
  line += std::to_string(count);
  if (total >= 0) line += "/" + std::to_string(total);
  line += " " + options_.unit;
  if (total > 0) line += " " + fixed(100.0 * count / total, 1) + "%";
  line += " " + fixed(rate, rate < 10 ? 2 : 1) + " " + options_.unit + "/s";
  if (total > 0 && count < total && rate > 0)
    line += " eta " + format_duration((total - count) / rate);
  else
    line += " elapsed " + format_duration(elapsed);
  if (!fields_.empty()) {
    line += " |";
    for (const auto& [name, value] : fields_) line += " " + name + " " + value;
  }
  return line;
}

}  // namespace pyramidion

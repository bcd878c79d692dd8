#include "pyramidion/util/terminal_log_sink.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "pyramidion/util/progress.h"

namespace pyramidion {
namespace {

class TerminalLogSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& message) override {
    write_above_progress([&] {
      inner_->log(message);
      inner_->flush();
    });
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_ = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> make_terminal_log_sink() { return std::make_shared<TerminalLogSink>(); }

}  // namespace pyramidion

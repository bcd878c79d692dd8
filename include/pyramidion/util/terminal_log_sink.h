#pragma once
// The CLI's log sink: spdlog's coloured stderr sink, written above the progress bar (util/progress.h), so a log
// line never lands on the bar's line of a terminal.
#include <spdlog/sinks/sink.h>

#include <memory>

namespace pyramidion {

std::shared_ptr<spdlog::sinks::sink> make_terminal_log_sink();

}  // namespace pyramidion

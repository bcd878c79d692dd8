#pragma once
// Graceful stop on SIGINT/SIGTERM/SIGHUP/SIGPIPE: while a StopSignalHandler is alive, the first signal is only recorded
// (the trainer finishes its update, saves checkpoint_last.pt and returns); a second one of the same kind terminates the
// process as usual (SIGPIPE never does: every write to a closed pipe raises it again).
namespace pyramidion {

class StopSignalHandler {
 public:
  StopSignalHandler();   // installs the handlers, clears any recorded signal
  ~StopSignalHandler();  // restores the previous handlers
  StopSignalHandler(const StopSignalHandler&) = delete;
  StopSignalHandler& operator=(const StopSignalHandler&) = delete;
};

// The recorded signal number (SIGINT, SIGTERM, SIGHUP, SIGPIPE), or 0. Async-signal-safe to set, cheap to poll.
int stop_signal_received();
void clear_stop_signal();
const char* signal_name(int signal);  // "SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", else "signal"

}  // namespace pyramidion

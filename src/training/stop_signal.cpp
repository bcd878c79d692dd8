#include "pyramidion/training/stop_signal.h"

#include <csignal>

namespace pyramidion {
namespace {

volatile std::sig_atomic_t received_signal = 0;
struct sigaction previous_int, previous_term, previous_hup, previous_pipe;

extern "C" void record_stop_signal(int signal) {
  // A closed output pipe raises SIGPIPE on every later write (log lines included): it never escalates.
  if (signal == SIGPIPE) {
    if (received_signal == 0) received_signal = signal;
    return;
  }
  if (received_signal == signal) {  // asked twice: stop now
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  received_signal = signal;
}

}  // namespace

StopSignalHandler::StopSignalHandler() {
  received_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking reads and writes continue instead of failing with EINTR
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
  sigaction(SIGHUP, &action, &previous_hup);    // the terminal went away
  sigaction(SIGPIPE, &action, &previous_pipe);  // `train | head`: the reader went away
}

StopSignalHandler::~StopSignalHandler() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGHUP, &previous_hup, nullptr);
  sigaction(SIGPIPE, &previous_pipe, nullptr);
}

int stop_signal_received() { return static_cast<int>(received_signal); }
void clear_stop_signal() { received_signal = 0; }

const char* signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGHUP) return "SIGHUP";
  if (signal == SIGPIPE) return "SIGPIPE";
  return "signal";
}

}  // namespace pyramidion

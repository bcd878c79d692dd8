#pragma once
// Runs the built `pyramidion` program, as a user would, and captures its output.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "test_support.h"

namespace pyramidion::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and captures its stdout and stderr (the line redirects stderr itself).
inline CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline CommandResult run_cli(const std::string& arguments) {
  return run_shell("'" + (binary_dir() / "pyramidion").string() + "' " + arguments + " 2>&1");
}

// The same on a pseudo-terminal (stdout and stderr are the terminal, as for a user at a shell), killed after
// `timeout_s`; exit_code -1 when it did not exit by itself. The output is the raw terminal byte stream.
inline CommandResult run_cli_in_terminal(const std::string& arguments, double timeout_s = 120) {
  const std::string command = "exec '" + (binary_dir() / "pyramidion").string() + "' " + arguments;
  CommandResult result;
  int master = -1;
  winsize size{};
  size.ws_col = 160;
  size.ws_row = 40;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) return result;
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{master, POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: the child closed the terminal (exited)
    result.output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) usleep(20000);
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    status = -1;
  }
  close(master);
  result.exit_code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// run_cli under `timeout SECONDS` (exit code 124 when it ran that long).
inline CommandResult run_cli_within(int seconds, const std::string& arguments) {
  return run_shell("timeout " + std::to_string(seconds) + " '" + (binary_dir() / "pyramidion").string() + "' " +
                   arguments + " 2>&1");
}

}  // namespace pyramidion::testing

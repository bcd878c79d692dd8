#pragma once
// Runs the built `pyramidion serve` as a child process on an ephemeral loopback port, as a user would, and
// stops it with SIGTERM. Every wait is bounded.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace pyramidion::testing {

class ServerProcess {
 public:
  // `arguments` after `pyramidion --threads 1 serve --port 0`; logs go to `log_prefix`.{out,err}.
  ServerProcess(const std::vector<std::string>& arguments, const std::string& log_prefix)
      : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
    std::vector<std::string> argv_strings = {
        (binary_dir() / "pyramidion").string(), "--threads", "1", "serve", "--host", "127.0.0.1", "--port", "0"};
    argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(out_path_.c_str(), "w", stdout) || !freopen(err_path_.c_str(), "w", stderr)) _exit(126);
      std::vector<char*> argv;
      for (auto& s : argv_strings) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // The "listening on" line gives the port (bounded wait: model loading takes a second or two).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+))");
    while (std::chrono::steady_clock::now() < give_up) {
      std::smatch match;
      const std::string err = stderr_text();
      if (std::regex_search(err, match, listening)) {
        port_ = std::stoi(match[1]);
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }  // 0 when it did not start (see stderr_text())
  bool running() const { return pid_ > 0 && port_ > 0; }

  // SIGTERM, then the exit code (waits at most `seconds`; -1 if it did not exit, then it is killed).
  int terminate(double seconds = 30) {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    return wait_exit(seconds);
  }
  void send_sigterm() const {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }
  int wait_exit(double seconds) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < give_up) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  std::string stdout_text() const { return read(out_path_); }
  std::string stderr_text() const { return read(err_path_); }

 private:
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace pyramidion::testing

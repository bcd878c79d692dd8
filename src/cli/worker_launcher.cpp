#include "worker_launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "command.h"
#include "pyramidion/training/stop_signal.h"

namespace pyramidion::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A port no one listens on now (the kernel's choice); the store binds it a moment later.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw CommandError(std::string("--nproc-per-node: socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw CommandError(std::string("--nproc-per-node: cannot find a free port: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) +
           ")";
  return "status " + std::to_string(status);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct Worker {
  int rank = 0, local_rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;
};

}  // namespace

std::vector<std::string> own_arguments_without(const std::vector<std::string>& options_with_value) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> all;
  std::string current;
  for (char c : raw) {
    if (c == '\0') {
      all.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  std::vector<std::string> kept;
  for (size_t i = 1; i < all.size(); ++i) {
    bool dropped = false;
    for (const auto& name : options_with_value) {
      if (all[i] == name) {
        ++i;  // and its value
        dropped = true;
        break;
      }
      if (all[i].rfind(name + "=", 0) == 0) {
        dropped = true;
        break;
      }
    }
    if (!dropped) kept.push_back(all[i]);
  }
  return kept;
}

int launch_workers(const WorkerLaunch& launch) {
  if (launch.nproc_per_node < 1) throw CommandError("--nproc-per-node: must be >= 1");
  if (launch.nnodes < 1 || launch.node_rank < 0 || launch.node_rank >= launch.nnodes)
    throw CommandError("--node-rank " + std::to_string(launch.node_rank) + ": must be in 0.." +
                       std::to_string(launch.nnodes - 1) + " (--nnodes " + std::to_string(launch.nnodes) + ")");
  std::string master_addr = launch.master_addr;
  if (master_addr.empty()) master_addr = std::getenv("MASTER_ADDR") ? std::getenv("MASTER_ADDR") : "127.0.0.1";
  int master_port = launch.master_port;
  if (master_port == 0 && std::getenv("MASTER_PORT")) master_port = std::atoi(std::getenv("MASTER_PORT"));
  if (master_port == 0) {
    if (launch.nnodes > 1)
      throw CommandError("--nnodes > 1 needs MASTER_ADDR and MASTER_PORT (the same on every machine)");
    master_port = free_loopback_port();
  }
  const int world_size = launch.nproc_per_node * launch.nnodes;
  char executable[4096] = {0};
  const ssize_t length = ::readlink("/proc/self/exe", executable, sizeof(executable) - 1);
  if (length <= 0) throw CommandError("--nproc-per-node: cannot find this program (/proc/self/exe)");

  StopSignalHandler signals;  // the launcher forwards signals instead of dying of them
  std::vector<Worker> workers(static_cast<size_t>(launch.nproc_per_node));
  for (int local = 0; local < launch.nproc_per_node; ++local) {
    Worker& w = workers[static_cast<size_t>(local)];
    w.local_rank = local;
    w.rank = launch.node_rank * launch.nproc_per_node + local;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      spdlog::error("--nproc-per-node: fork failed: {}", std::strerror(errno));
      for (const Worker& started : workers)
        if (started.running) ::kill(started.pid, SIGKILL);
      throw CommandError("could not start the worker processes");
    }
    if (pid == 0) {
      // The worker: its own process group (a terminal's Ctrl-C reaches the launcher, which forwards it once),
      // and it ends when the launcher dies.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::setenv("RANK", std::to_string(w.rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world_size).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(launch.nproc_per_node).c_str(), 1);
      ::setenv("GROUP_RANK", std::to_string(launch.node_rank).c_str(), 1);
      ::setenv("MASTER_ADDR", master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(master_port).c_str(), 1);
      std::vector<char*> argv;
      argv.push_back(executable);
      for (const auto& a : launch.arguments) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(executable, argv.data());
      std::fprintf(stderr, "pyramidion: error: rank %d: exec %s: %s\n", w.rank, executable, std::strerror(errno));
      ::_exit(127);
    }
    w.pid = pid;
    w.running = true;
  }
  spdlog::info("started {} worker processes (ranks {}..{} of {}, master {}:{})", launch.nproc_per_node,
               workers.front().rank, workers.back().rank, world_size, master_addr, master_port);

  int forwarded_signal = 0;
  const Worker* first_failure = nullptr;
  Clock::time_point kill_at{};
  bool terminating = false;
  size_t running = workers.size();
  while (running > 0) {
    if (const int signal = stop_signal_received()) {
      clear_stop_signal();  // a second signal is forwarded again (the workers then stop at once)
      forwarded_signal = signal == SIGPIPE ? SIGTERM : signal;
      spdlog::warn("{} received: forwarding it to the workers", signal_name(signal));
      for (const Worker& w : workers)
        if (w.running) ::kill(w.pid, forwarded_signal);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (Worker& w : workers) {
        if (w.pid != pid || !w.running) continue;
        w.running = false;
        w.status = status;
        --running;
        const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (failed && first_failure == nullptr && forwarded_signal == 0) {
          first_failure = &w;
          if (running > 0) {
            spdlog::error("rank {} (pid {}) ended with {}: stopping the other {} workers", w.rank, w.pid,
                          describe_status(status), running);
            for (const Worker& other : workers)
              if (other.running) ::kill(other.pid, SIGTERM);
            terminating = true;
            kill_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(launch.grace_seconds * 1000));
          }
        }
      }
      continue;
    }
    if (terminating && Clock::now() >= kill_at) {
      for (const Worker& w : workers)
        if (w.running) {
          spdlog::error("rank {} (pid {}) still running {} s after SIGTERM: killing it", w.rank, w.pid,
                        launch.grace_seconds);
          ::kill(w.pid, SIGKILL);
        }
      terminating = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (first_failure != nullptr)
    throw CommandError(fmt::format("rank {} of {} failed ({}); the other workers were stopped", first_failure->rank,
                                   world_size, describe_status(first_failure->status)),
                       std::max(1, exit_code_of(first_failure->status)));
  int code = 0;
  for (const Worker& w : workers)
    if (code == 0) code = exit_code_of(w.status);
  if (code != 0)
    throw CommandError(fmt::format("the workers stopped with exit code {}{}", code,
                                   forwarded_signal ? std::string(" after ") + signal_name(forwarded_signal) : ""),
                       code);
  return 0;
}

}  // namespace pyramidion::cli

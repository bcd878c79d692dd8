#pragma once
// `pyramidion train --nproc-per-node N`: starts N worker processes of this same binary and command line (without
// the launcher's options), each with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT), and supervises them: SIGINT/SIGTERM/SIGHUP are forwarded (the workers save
// checkpoint_last.pt and stop at the same update), and when one worker fails the others are stopped (SIGTERM,
// then SIGKILL after a grace period) and the launcher exits non-zero naming the rank that failed first.
#include <string>
#include <vector>

namespace pyramidion::cli {

struct WorkerLaunch {
  int nproc_per_node = 1;
  int nnodes = 1;                      // machines, each running one launcher
  int node_rank = 0;                   // this machine's index: ranks node_rank * nproc_per_node + local rank
  std::string master_addr;             // "" = $MASTER_ADDR or 127.0.0.1
  int master_port = 0;                 // 0 = $MASTER_PORT, else a free loopback port (one machine only)
  double grace_seconds = 15;           // after a failure: SIGTERM, then SIGKILL for those still running
  std::vector<std::string> arguments;  // the worker's argv after argv[0]
};

// The argument vector of this process (from /proc/self/cmdline) without argv[0] and without the named options
// (each followed by a value, or written --name=value).
std::vector<std::string> own_arguments_without(const std::vector<std::string>& options_with_value);

// Runs the workers to the end; returns the exit code for the launcher (0 when all succeeded).
int launch_workers(const WorkerLaunch& launch);

}  // namespace pyramidion::cli

#pragma once
// Data-parallel training across processes and machines on LibTorch's c10d: the rendezvous (a c10d TCPStore at
// the master, the way torchrun does it) and the process group (Gloo for CPU tensors, NCCL for CUDA ones), and
// the GradientReducer that UpdateStep uses with it (bucketed all-reduce overlapped with backward).
//
//   DistributedOptions o = DistributedOptions::from_environment();   // RANK, WORLD_SIZE, MASTER_ADDR, ...
//   DistributedContext context(o, torch::kCPU);
//   TrainerOptions t;  t.rank = context.rank();  t.world_size = context.world_size();  t.reducer = context.reducer();
//
// c10d's headers stay in src/training/distributed/: a build without Gloo or NCCL compiles this header and says
// which backend is missing when asked for it.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pyramidion/training/gradient_reducer.h"

namespace pyramidion {

struct DistributedOptions {
  std::string master_addr;  // host or address of rank 0's TCPStore
  int64_t master_port = 0;
  int64_t rank = -1;
  int64_t world_size = -1;
  int64_t local_rank = -1;       // the rank on this machine (picks cuda:LOCAL_RANK); -1 = rank
  std::string backend = "auto";  // auto (nccl for a CUDA device, else gloo), gloo, nccl
  double timeout_seconds = 300;  // rendezvous and every collective: a dead or hung rank fails the others after this
  double bucket_mb = 25;         // gradient all-reduce bucket size (MiB)

  // torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default
  // 29500). Throws std::invalid_argument naming the variable when one is malformed.
  static DistributedOptions from_environment();
  // tcp://HOST:PORT (as torch.distributed's init_method) into master_addr/master_port; throws naming the url.
  void set_url(const std::string& url);
  bool multi_process() const { return world_size > 1; }
  void validate() const;  // throws std::invalid_argument naming the field
};

// Whether the environment names a multi-process run (WORLD_SIZE set, as torchrun, Slurm scripts and
// `pyramidion train --nproc-per-node` do).
bool distributed_environment_present();
// The c10d backends this build has ("gloo", "nccl").
std::vector<std::string> compiled_distributed_backends();

class DistributedContext {
 public:
  // Rendezvous with the other world_size - 1 processes and makes the process group; `device` is the training
  // device (the backend's tensors live there). Throws std::runtime_error with a one-line reason (backend not in
  // this build, master unreachable within the timeout, ...).
  DistributedContext(const DistributedOptions& options, const torch::Device& device);
  ~DistributedContext();
  DistributedContext(const DistributedContext&) = delete;
  DistributedContext& operator=(const DistributedContext&) = delete;

  int64_t rank() const;
  int64_t world_size() const;
  int64_t local_rank() const;
  const std::string& backend() const;  // "gloo" or "nccl"
  std::string describe() const;        // "rank 1 of 4 (gloo, master 10.0.0.1:29500)"

  // The reducer for TrainerOptions::reducer (one per context).
  std::shared_ptr<GradientReducer> reducer();
  void barrier();
  // Gradient buckets, and how many of them the last update started during backward (the rest after it).
  int64_t gradient_buckets() const;
  int64_t buckets_started_during_backward() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pyramidion

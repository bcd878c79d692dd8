#pragma once
// GradientReducer over a c10d process group (Gloo or NCCL). Gradients are all-reduced (SUM) in buckets of about
// bucket_bytes: parameters are bucketed in reverse model order (the order backward produces their gradients),
// and during an update's last backward each parameter's gradient-accumulator post hook marks it ready; a bucket
// whose parameters are all ready is copied into its flat buffer and its all-reduce started at once, in bucket
// order on every rank (collectives must be issued in the same order everywhere). reduce_gradients() starts the
// buckets still pending (parameters this backward did not reach, or all of them after a skipped backward),
// waits for all and copies the sums back. Each bucket carries one "defined" count per parameter, so a gradient
// that exists on only some ranks is still summed and one that exists nowhere stays undefined.
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "c10d_backend.h"
#include "pyramidion/training/gradient_reducer.h"

namespace pyramidion::distributed {

struct C10dReducerOptions {
  int64_t bucket_bytes = 25 << 20;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // per collective wait
  torch::Device scalar_device = torch::kCPU;                   // where sum_scalars' tensor lives (CUDA for NCCL)
};

class C10dGradientReducer final : public GradientReducer {
 public:
  C10dGradientReducer(c10::intrusive_ptr<CollectiveBackend> backend, C10dReducerOptions options);
  ~C10dGradientReducer() override;

  void attach(const std::vector<torch::Tensor>& parameters) override;
  void before_backward(bool last) override;
  void reduce_gradients(const std::vector<torch::Tensor>& parameters) override;
  void sum_scalars(std::vector<double>& values) override;
  double communication_seconds() const override { return communication_seconds_; }
  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_size_; }

  // Makes every tensor equal to rank 0's (initial weights, buffers).
  void broadcast_from_rank0(const std::vector<torch::Tensor>& tensors);
  void barrier();
  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t buckets_started_in_backward() const { return started_in_backward_; }  // of the last update

  // Called by the post hooks (the autograd thread): parameter `index`'s gradient is final for this update.
  void mark_ready(size_t index);

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // indices into parameters_
    std::vector<int64_t> offsets;    // element offset of each parameter in `buffer`
    int64_t elements = 0;            // gradient elements (the defined counts follow them)
    torch::Tensor buffer;            // (elements + parameters.size(),)
    size_t ready = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void start(size_t bucket);   // copies the gradients into the buffer, starts its all-reduce (mutex_ held)
  void start_ready_buckets();  // in order, while the next bucket is ready (mutex_ held)
  void wait(c10d::Work& work, const char* what);
  [[noreturn]] void fail(const char* what, const std::exception& e);

  c10::intrusive_ptr<CollectiveBackend> backend_;
  C10dReducerOptions options_;
  int64_t rank_ = 0, world_size_ = 1;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // kept alive: they hold the post hooks
  std::vector<uintptr_t> hook_keys_;
  std::vector<size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  std::mutex mutex_;
  bool armed_ = false;     // inside an update's last backward
  size_t next_start_ = 0;  // the next bucket to start (buckets start in order)
  int64_t started_in_backward_ = 0;
  double communication_seconds_ = 0;
  bool failed_ = false;  // a collective failed: the backend is left alone (its peers are gone)
};

}  // namespace pyramidion::distributed

#pragma once
// The hook through which data-parallel training makes the processes agree. UpdateStep calls, per update:
//   sum_scalars({target tokens})        so every rank divides its loss by the global token count;
//   before_backward(last) per batch     an overlapping reducer reduces gradient buckets during the last backward;
//   reduce_gradients(parameters)        after the last backward, on every rank, even for an update that will be
//                                       skipped (so the collectives of all ranks stay in step);
//   sum_scalars({non-finite, losses})   so every rank skips the same updates and logs the same numbers;
// then unscaling and clipping of the (now global) gradient. attach() is called once, before the first update.
// On one process all of it is a no-op (LocalGradientReducer); training/distributed_context.h makes the c10d one
// (Gloo or NCCL process group, all-reduce with SUM in buckets).
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace pyramidion {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;

  // The model's parameters (model->parameters() order, the same on every rank), once before any update: an
  // overlapping reducer registers its gradient hooks here and makes every rank start from rank 0's values.
  virtual void attach(const std::vector<torch::Tensor>& /*parameters*/) {}
  // Before each backward of an update; `last`: the update's last accumulated batch (its gradients are final as
  // each parameter's accumulation finishes, so their buckets can be reduced while backward goes on).
  virtual void before_backward(bool /*last*/) {}
  // Sums the attached parameters' .grad() over the processes, in place. A gradient undefined here but defined on
  // another rank becomes that sum; one undefined everywhere stays undefined. The loss was already divided by the
  // global token count, so a plain sum is the global gradient.
  virtual void reduce_gradients(const std::vector<torch::Tensor>& parameters) = 0;
  // Sums small scalars (token counts, the non-finite flag, loss sums, stop requests) over the processes, in place.
  virtual void sum_scalars(std::vector<double>& values) = 0;

  // Seconds this process spent blocked in collectives so far (the log's all-reduce share of step time).
  virtual double communication_seconds() const { return 0.0; }

  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  bool is_writer() const { return rank() == 0; }  // the one process that writes checkpoints and logs
};

// One process: nothing to reduce.
class LocalGradientReducer final : public GradientReducer {
 public:
  void reduce_gradients(const std::vector<torch::Tensor>&) override {}
  void sum_scalars(std::vector<double>&) override {}
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
};

}  // namespace pyramidion

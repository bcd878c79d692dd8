#pragma once
// The hook through which data-parallel training makes the processes agree. UpdateStep calls it once per update:
// first sum_scalars() on the update's target-token count (so every rank divides by the global count), then,
// after backward of all accumulated batches, sum_scalars() on the non-finite flag and the loss statistics (so
// every rank skips the same updates and logs the same numbers), then reduce_gradients() before unscaling and
// clipping (so every rank clips the same global gradient). On one process all of it is a no-op
// (LocalGradientReducer); a c10d ProcessGroup implementation all-reduces with SUM.
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace pyramidion {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;

  // Sums the parameters' gradients over the processes, in place. `gradients` holds each defined .grad() (the
  // tensors alias the parameters' gradients), in the order of model->parameters(); every rank passes the same
  // list. The loss was already divided by the global token count, so a plain sum is the global gradient.
  virtual void reduce_gradients(std::vector<torch::Tensor>& gradients) = 0;
  // Sums small scalars (token counts, the non-finite flag, loss sums) over the processes, in place.
  virtual void sum_scalars(std::vector<double>& values) = 0;

  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  bool is_writer() const { return rank() == 0; }  // the one process that writes checkpoints and logs
};

// One process: nothing to reduce.
class LocalGradientReducer final : public GradientReducer {
 public:
  void reduce_gradients(std::vector<torch::Tensor>&) override {}
  void sum_scalars(std::vector<double>&) override {}
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
};

}  // namespace pyramidion

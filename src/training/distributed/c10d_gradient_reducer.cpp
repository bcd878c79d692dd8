#include "c10d_gradient_reducer.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <stdexcept>
#include <string>

namespace pyramidion::distributed {
namespace {

using Clock = std::chrono::steady_clock;

// Runs after a parameter's AccumulateGrad node: its .grad() now holds this backward's contribution.
class GradientReadyHook final : public torch::autograd::FunctionPostHook {
 public:
  GradientReadyHook(C10dGradientReducer* reducer, size_t index) : reducer_(reducer), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    reducer_->mark_ready(index_);
    return outputs;
  }

 private:
  C10dGradientReducer* reducer_;
  size_t index_;
};

}  // namespace

C10dGradientReducer::C10dGradientReducer(c10::intrusive_ptr<CollectiveBackend> backend, C10dReducerOptions options)
    : backend_(std::move(backend)), options_(options) {
  if (!backend_) throw std::invalid_argument("C10dGradientReducer: no process group");
  rank_ = backend_->getRank();
  world_size_ = backend_->getSize();
  if (options_.bucket_bytes < 1) throw std::invalid_argument("C10dGradientReducer: bucket_bytes must be >= 1");
}

C10dGradientReducer::~C10dGradientReducer() {
  for (size_t i = 0; i < accumulators_.size(); ++i)
    if (accumulators_[i]) accumulators_[i]->del_post_hook(hook_keys_[i]);
  // After a failed collective the group's worker threads may still wait on dead peers: leak it rather than
  // block the exit in its destructor (the process is about to end with the error).
  if (failed_) backend_.release();
}

void C10dGradientReducer::attach(const std::vector<torch::Tensor>& parameters) {
  if (!parameters_.empty()) throw std::logic_error("C10dGradientReducer: attach() called twice");
  parameters_ = parameters;
  {
    torch::NoGradGuard no_grad;
    broadcast_from_rank0(parameters_);
  }
  bucket_of_.assign(parameters_.size(), 0);
  // Reverse model order: backward reaches the last layers first, so their bucket fills (and starts) first.
  Bucket current;
  int64_t current_bytes = 0;
  auto close = [&] {
    if (current.parameters.empty()) return;
    buckets_.push_back(std::move(current));
    current = Bucket();
    current_bytes = 0;
  };
  for (size_t k = parameters_.size(); k-- > 0;) {
    const torch::Tensor& p = parameters_[k];
    if (!p.requires_grad()) continue;
    if (!current.parameters.empty()) {
      const torch::Tensor& first = parameters_[current.parameters.front()];
      const bool same_kind = first.scalar_type() == p.scalar_type() && first.device() == p.device();
      if (!same_kind || current_bytes + p.numel() * static_cast<int64_t>(p.element_size()) > options_.bucket_bytes)
        close();
    }
    bucket_of_[k] = buckets_.size();
    current.parameters.push_back(k);
    current.offsets.push_back(current.elements);
    current.elements += p.numel();
    current_bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  close();
  for (Bucket& bucket : buckets_) {
    const torch::Tensor& first = parameters_[bucket.parameters.front()];
    bucket.buffer = torch::zeros({bucket.elements + static_cast<int64_t>(bucket.parameters.size())}, first.options());
  }
  accumulators_.resize(parameters_.size());
  hook_keys_.resize(parameters_.size());
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad()) continue;
    accumulators_[k] = torch::autograd::impl::grad_accumulator(parameters_[k]);
    if (accumulators_[k]) hook_keys_[k] = accumulators_[k]->add_post_hook(std::make_unique<GradientReadyHook>(this, k));
  }
}

void C10dGradientReducer::before_backward(bool last) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = last;
  if (!last) return;
  for (Bucket& bucket : buckets_) {
    bucket.ready = 0;
    bucket.work.reset();
  }
  next_start_ = 0;
  started_in_backward_ = 0;
}

void C10dGradientReducer::mark_ready(size_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_ || failed_) return;
  Bucket& bucket = buckets_[bucket_of_[index]];
  ++bucket.ready;
  start_ready_buckets();
}

void C10dGradientReducer::start_ready_buckets() {
  while (next_start_ < buckets_.size() && buckets_[next_start_].ready >= buckets_[next_start_].parameters.size()) {
    start(next_start_++);
    ++started_in_backward_;
  }
}

void C10dGradientReducer::start(size_t index) {
  Bucket& bucket = buckets_[index];
  torch::NoGradGuard no_grad;
  const int64_t flags = bucket.elements;
  for (size_t j = 0; j < bucket.parameters.size(); ++j) {
    const torch::Tensor& p = parameters_[bucket.parameters[j]];
    torch::Tensor slice = bucket.buffer.narrow(0, bucket.offsets[j], p.numel());
    const torch::Tensor& grad = p.grad();
    if (grad.defined()) {
      slice.copy_(grad.reshape({-1}));
      bucket.buffer[flags + static_cast<int64_t>(j)].fill_(1);
    } else {
      slice.zero_();
      bucket.buffer[flags + static_cast<int64_t>(j)].fill_(0);
    }
  }
  std::vector<at::Tensor> tensors{bucket.buffer};
  c10d::AllreduceOptions reduce;
  reduce.reduceOp = c10d::ReduceOp::SUM;
  try {
    bucket.work = backend_->allreduce(tensors, reduce);
  } catch (const std::exception& e) {
    fail("gradient all-reduce", e);
  }
}

void C10dGradientReducer::wait(c10d::Work& work, const char* what) {
  try {
    work.wait(options_.timeout);
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void C10dGradientReducer::fail(const char* what, const std::exception& e) {
  failed_ = true;
  throw CollectiveFailure(
      "rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) + ": " + what +
      " failed (another rank exited, hung past --dist-timeout, or the network failed): " + collective_error_text(e));
}

void C10dGradientReducer::reduce_gradients(const std::vector<torch::Tensor>& parameters) {
  if (parameters.size() != parameters_.size())
    throw std::logic_error("C10dGradientReducer: other parameters than attached");
  const auto begin = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!armed_) {  // no last backward ran (its loss was not finite): nothing has started yet
      for (Bucket& bucket : buckets_) bucket.work.reset();
      next_start_ = 0;
      started_in_backward_ = 0;
    }
    armed_ = false;
    while (next_start_ < buckets_.size()) start(next_start_++);
  }
  torch::NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    wait(*bucket.work, "gradient all-reduce");
    bucket.work.reset();
    const torch::Tensor counts =
        bucket.buffer.narrow(0, bucket.elements, static_cast<int64_t>(bucket.parameters.size()))
            .to(torch::kCPU, torch::kFloat64);
    const double* defined = counts.data_ptr<double>();
    for (size_t j = 0; j < bucket.parameters.size(); ++j) {
      if (defined[j] == 0) continue;  // no rank has this gradient
      torch::Tensor p = parameters_[bucket.parameters[j]];
      const torch::Tensor sum = bucket.buffer.narrow(0, bucket.offsets[j], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(sum);
      else
        p.mutable_grad() = sum.clone();
    }
  }
  communication_seconds_ += std::chrono::duration<double>(Clock::now() - begin).count();
}

void C10dGradientReducer::sum_scalars(std::vector<double>& values) {
  if (values.empty()) return;
  const auto begin = Clock::now();
  std::vector<at::Tensor> tensors{torch::tensor(values, torch::kFloat64).to(options_.scalar_device)};
  c10d::AllreduceOptions reduce;
  reduce.reduceOp = c10d::ReduceOp::SUM;
  try {
    auto work = backend_->allreduce(tensors, reduce);
    wait(*work, "scalar all-reduce");
  } catch (const CollectiveFailure&) {
    throw;
  } catch (const std::exception& e) {
    fail("scalar all-reduce", e);
  }
  const torch::Tensor sums = tensors[0].to(torch::kCPU).contiguous();
  for (size_t i = 0; i < values.size(); ++i) values[i] = sums[static_cast<int64_t>(i)].item<double>();
  communication_seconds_ += std::chrono::duration<double>(Clock::now() - begin).count();
}

void C10dGradientReducer::broadcast_from_rank0(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(torch::kFloat64));
  std::vector<at::Tensor> buffer{torch::cat(flat).to(options_.scalar_device)};
  c10d::BroadcastOptions broadcast;
  broadcast.rootRank = 0;
  try {
    auto work = backend_->broadcast(buffer, broadcast);
    wait(*work, "initial weight broadcast");
  } catch (const CollectiveFailure&) {
    throw;
  } catch (const std::exception& e) {
    fail("initial weight broadcast", e);
  }
  const torch::Tensor values = buffer[0].to(torch::kCPU);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    torch::Tensor target = t;
    target.detach().copy_(values.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

void C10dGradientReducer::barrier() {
  try {
    c10d::BarrierOptions options;
    options.timeout = options_.timeout;
    auto work = backend_->barrier(options);
    wait(*work, "barrier");
  } catch (const CollectiveFailure&) {
    throw;
  } catch (const std::exception& e) {
    fail("barrier", e);
  }
}

}  // namespace pyramidion::distributed

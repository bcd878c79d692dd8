#include "pyramidion/nn/pooling_report.h"

#include <torch/torch.h>

#include "pyramidion/nn/representation_pooler.h"

namespace pyramidion {

torch::Tensor memory_provenance(const EncoderOutput& output, int64_t source_length) {
  torch::NoGradGuard no_grad;
  torch::Tensor composed;  // (batch, current_len, src_len)
  for (const auto& record : output.pooling) {
    auto weights = pooling_provenance(record).to(torch::kCPU, torch::kFloat);  // (batch, out_len, in_len)
    composed = composed.defined() ? torch::bmm(weights, composed) : weights;
  }
  if (!composed.defined()) {
    const int64_t batch = output.states.size(0);
    composed = torch::eye(source_length, torch::kFloat)
                   .unsqueeze(0)
                   .expand({batch, source_length, source_length})
                   .narrow(1, 0, output.states.size(1));
  }
  return composed;
}

void PoolingReportAccumulator::add(const EncoderOutput& output, const torch::Tensor& token_classes,
                                   const torch::Tensor& mask) {
  const auto classes = token_classes.to(torch::kCPU, torch::kLong);
  const auto real = mask.to(torch::kCPU, torch::kBool);
  const auto provenance = memory_provenance(output, classes.size(1));  // (batch, k, n)
  const auto memory_mask = output.mask.to(torch::kCPU, torch::kBool);  // (batch, k)
  const auto one_hot = torch::one_hot(classes.clamp(0, 2), 3).to(torch::kFloat) * real.unsqueeze(-1).to(torch::kFloat);
  const auto mass = torch::bmm(provenance, one_hot);  // (batch, k, 3)
  const auto dominates = (provenance > 0.5).any(1);   // (batch, n)
  for (int64_t b = 0; b < classes.size(0); ++b) {
    const int64_t tokens = real[b].sum().item<int64_t>();
    if (tokens == 0) continue;
    const int64_t slots = memory_mask[b].sum().item<int64_t>();
    const int64_t salient = (classes[b].eq(1) & real[b]).sum().item<int64_t>();
    ++documents_;
    slots_ += slots;
    salient_slots_ += ((mass[b].select(1, 1) > 0.5) & memory_mask[b]).sum().item<int64_t>();
    base_sum_ += static_cast<double>(salient) / static_cast<double>(tokens);
    ceiling_sum_ += slots > 0 ? static_cast<double>(std::min(salient, slots)) / static_cast<double>(slots) : 0.0;
    for (int64_t c = 0; c < 3; ++c) {
      const auto of_class = classes[b].eq(c) & real[b];
      totals_[c] += static_cast<double>(of_class.sum().item<int64_t>());
      dominating_[c] += static_cast<double>((of_class & dominates[b]).sum().item<int64_t>());
    }
  }
}

PoolingReport PoolingReportAccumulator::result() const {
  PoolingReport r;
  r.documents = documents_;
  r.slots = slots_;
  if (documents_ == 0) return r;
  r.salient_share = slots_ > 0 ? static_cast<double>(salient_slots_) / static_cast<double>(slots_) : 0.0;
  r.base_rate = base_sum_ / static_cast<double>(documents_);
  r.ceiling = ceiling_sum_ / static_cast<double>(documents_);
  for (int c = 0; c < 3; ++c) r.recall[c] = totals_[c] > 0 ? dominating_[c] / totals_[c] : 0.0;
  return r;
}

}  // namespace pyramidion

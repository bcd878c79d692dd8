#pragma once
// What the poolers kept: composes every pooling layer's mixing weights into token-level provenance of the
// final memory, then measures it against known token classes (the synthetic corpus labels its tokens
// salient / distractor / filler). A bare "share of salient slots" looks poor even for a perfect pooler when a
// document has fewer salient tokens than slots, so the report carries the base rate and the ceiling with it.
#include <torch/types.h>

#include <array>
#include <cstdint>

#include "pyramidion/nn/encoder_output.h"

namespace pyramidion {

// Token-level provenance of the final memory: (batch, memory_len, src_len) mixing weights, the product of the
// pooling layers' provenance matrices; identity when nothing was pooled.
torch::Tensor memory_provenance(const EncoderOutput& output, int64_t source_length);

struct PoolingReport {
  int64_t documents = 0;
  int64_t slots = 0;         // real final-memory slots counted
  double salient_share = 0;  // share of slots whose weight is > 0.5 salient tokens
  double base_rate = 0;      // share of salient tokens among real tokens (mean over documents)
  double ceiling = 0;        // mean over documents of min(#salient, slots) / slots
  // Per token class (index = class id: 0 filler, 1 salient, 2 distractor): share of the class's tokens that
  // dominate (> 0.5 of) some final slot.
  std::array<double, 3> recall{};
};

class PoolingReportAccumulator {
 public:
  // output: the encoder's output for source (batch, src_len) with mask (batch, src_len) bool;
  // token_classes (batch, src_len) int64 in {0, 1, 2}.
  void add(const EncoderOutput& output, const torch::Tensor& token_classes, const torch::Tensor& mask);
  PoolingReport result() const;

 private:
  int64_t documents_ = 0, slots_ = 0, salient_slots_ = 0;
  double base_sum_ = 0, ceiling_sum_ = 0;
  std::array<double, 3> dominating_{}, totals_{};
};

}  // namespace pyramidion

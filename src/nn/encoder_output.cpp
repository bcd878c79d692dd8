#include "pyramidion/nn/encoder_output.h"

#include <torch/torch.h>

namespace pyramidion {

EncoderOutput EncoderOutput::index_select(const torch::Tensor& rows) const {
  auto select = [&](const torch::Tensor& t) {
    return t.defined() ? t.index_select(0, rows.to(t.device(), torch::kLong)) : t;
  };
  EncoderOutput out{select(states), select(mask), pooling, copy.index_select(rows)};
  for (auto& record : out.pooling) {
    record.scores = select(record.scores);
    record.mask = select(record.mask);
  }
  return out;
}

}  // namespace pyramidion

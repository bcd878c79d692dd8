#include "pyramidion/nn/decoder_cache.h"

#include <torch/torch.h>

namespace pyramidion {

DecoderCache::DecoderCache(std::vector<DecoderLayerCache> layers, torch::Tensor memory_mask)
    : layers_(std::move(layers)), memory_mask_(std::move(memory_mask)) {}

void DecoderCache::reorder(const torch::Tensor& rows) {
  TORCH_CHECK(rows.dim() == 1, "DecoderCache::reorder: rows must be 1-D, got ", rows.sizes());
  auto select = [&](torch::Tensor& t) {
    if (t.defined()) t = t.index_select(0, rows.to(t.device(), torch::kLong));
  };
  for (auto& layer : layers_) {
    select(layer.self_key);
    select(layer.self_value);
    select(layer.cross_key);
    select(layer.cross_value);
  }
  select(memory_mask_);
}

}  // namespace pyramidion

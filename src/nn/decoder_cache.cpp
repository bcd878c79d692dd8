#include "pyramidion/nn/decoder_cache.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <string>

namespace pyramidion {

void DecoderLayerCache::append_self(const torch::Tensor& key, const torch::Tensor& value) {
  if (torch::GradMode::is_enabled() && (key.requires_grad() || value.requires_grad())) {
    self_key = self_length > 0 ? torch::cat({self_keys(), key}, 2) : key;
    self_value = self_length > 0 ? torch::cat({self_values(), value}, 2) : value;
    ++self_length;
    return;
  }
  if (!self_key.defined() || self_length == self_key.size(2)) {
    const int64_t capacity = std::max<int64_t>(16, 2 * self_length);
    auto grow = [&](torch::Tensor& buffer, const torch::Tensor& like) {
      torch::Tensor bigger = torch::empty({like.size(0), like.size(1), capacity, like.size(3)}, like.options());
      if (self_length > 0) bigger.narrow(2, 0, self_length).copy_(buffer.narrow(2, 0, self_length));
      buffer = bigger;
    };
    grow(self_key, key);
    grow(self_value, value);
  }
  self_key.narrow(2, self_length, 1).copy_(key);
  self_value.narrow(2, self_length, 1).copy_(value);
  ++self_length;
}

DecoderCache::DecoderCache(std::vector<DecoderLayerCache> layers, torch::Tensor memory_mask, CopySources copy)
    : layers_(std::move(layers)), memory_mask_(std::move(memory_mask)), copy_(std::move(copy)) {
  row_memory_.resize(static_cast<size_t>(memory_mask_.defined() ? memory_mask_.size(0) : 0));
  std::iota(row_memory_.begin(), row_memory_.end(), int64_t{0});
  memory_padded_ = memory_mask_.defined() && memory_mask_.numel() > 0 && !memory_mask_.all().item<bool>();
}

void DecoderCache::reorder(const torch::Tensor& rows) {
  TORCH_CHECK(rows.dim() == 1, "DecoderCache::reorder: rows must be 1-D, got ", rows.sizes());
  const torch::Tensor host = rows.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t n = host.size(0), batch = batch_size();
  const int64_t* r = host.data_ptr<int64_t>();
  std::vector<int64_t> mapped(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(r[i] >= 0 && r[i] < batch, "DecoderCache::reorder: row ", r[i], " out of range for ", batch, " rows");
    mapped[static_cast<size_t>(i)] = row_memory_[static_cast<size_t>(r[i])];
  }
  // Self-attention state follows the rows.
  const auto device = memory_mask_.defined() ? memory_mask_.device() : rows.device();
  const torch::Tensor device_rows = rows.to(device, torch::kLong);
  for (auto& layer : layers_) {
    if (layer.self_key.defined()) {
      layer.self_key = layer.self_key.index_select(0, device_rows);
      layer.self_value = layer.self_value.index_select(0, device_rows);
    }
  }
  // Memory side: runs of equal memory rows, all of one length g, keep one memory row per run.
  int64_t group = n > 0 ? 1 : memory_group_;
  while (group < n && mapped[static_cast<size_t>(group)] == mapped[0]) ++group;
  bool grouped = n > 0 && n % group == 0;
  for (int64_t i = 0; grouped && i < n; ++i)
    grouped = mapped[static_cast<size_t>(i)] == mapped[static_cast<size_t>(i - i % group)] &&
              (i % group != 0 || i == 0 || mapped[static_cast<size_t>(i)] != mapped[static_cast<size_t>(i - 1)]);
  std::vector<int64_t> keep;  // memory rows to keep, in their new order
  if (grouped) {
    for (int64_t i = 0; i < n; i += group) keep.push_back(mapped[static_cast<size_t>(i)]);
  } else {
    keep = mapped;
    group = 1;
  }
  const int64_t memory_rows = memory_mask_.defined() ? memory_mask_.size(0) : 0;
  bool identity = static_cast<int64_t>(keep.size()) == memory_rows;
  for (size_t i = 0; identity && i < keep.size(); ++i) identity = keep[i] == static_cast<int64_t>(i);
  if (!identity && memory_mask_.defined()) {
    const torch::Tensor index = torch::tensor(keep, torch::kLong).to(device);
    for (auto& layer : layers_) {
      layer.cross_key = layer.cross_key.index_select(0, index);
      layer.cross_value = layer.cross_value.index_select(0, index);
    }
    memory_mask_ = memory_mask_.index_select(0, index);
    copy_ = copy_.index_select(index);
  }
  memory_group_ = group;
  row_memory_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) row_memory_[static_cast<size_t>(i)] = i / group;
}

}  // namespace pyramidion

#include "pyramidion/training/batch.h"

#include <algorithm>

namespace pyramidion {

Batch Batch::to(const torch::Device& device) const {
  Batch moved = *this;
  moved.source = source.to(device, /*non_blocking=*/true);
  moved.source_mask = source_mask.to(device, true);
  moved.target_in = target_in.to(device, true);
  moved.target_out = target_out.to(device, true);
  return moved;
}

std::vector<int64_t> clipped_source_lengths(const data::BinaryDataset& dataset, const ModelConfig& config) {
  std::vector<int64_t> lengths(dataset.size());
  for (size_t i = 0; i < dataset.size(); ++i)
    lengths[i] = std::min<int64_t>(dataset.source_length(i), config.max_source_positions);
  return lengths;
}

std::vector<int64_t> clipped_target_lengths(const data::BinaryDataset& dataset, const ModelConfig& config) {
  std::vector<int64_t> lengths(dataset.size());
  for (size_t i = 0; i < dataset.size(); ++i)
    lengths[i] = std::min<int64_t>(dataset.target_length(i), config.max_target_positions);
  return lengths;
}

Batch collate_batch(const data::BinaryDataset& dataset, const std::vector<int64_t>& indices,
                    const ModelConfig& config) {
  const int64_t rows = static_cast<int64_t>(indices.size());
  int64_t src_len = 1, tgt_len = 1;
  for (int64_t i : indices) {
    src_len = std::max<int64_t>(src_len, std::min<int64_t>(dataset.source_length(i), config.max_source_positions));
    tgt_len = std::max<int64_t>(tgt_len, std::min<int64_t>(dataset.target_length(i), config.max_target_positions));
  }
  Batch batch;
  batch.indices = indices;
  batch.source = torch::full({rows, src_len}, config.pad_id, torch::kInt64);
  batch.target_in = torch::full({rows, tgt_len}, config.pad_id, torch::kInt64);
  batch.target_out = torch::full({rows, tgt_len}, config.pad_id, torch::kInt64);
  auto source = batch.source.accessor<int64_t, 2>();
  auto target_in = batch.target_in.accessor<int64_t, 2>();
  auto target_out = batch.target_out.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto src = dataset.source(indices[r]);
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(src.size()), config.max_source_positions);
    for (int64_t j = 0; j < n; ++j) source[r][j] = src[j];
    if (n > 0 && static_cast<int64_t>(src.size()) > n) source[r][n - 1] = src[src.size() - 1];  // keep EOS
    batch.source_tokens += n;
    const auto tgt = dataset.target(indices[r]);
    const int64_t m = std::min<int64_t>(static_cast<int64_t>(tgt.size()), config.max_target_positions);
    for (int64_t j = 0; j < m; ++j) {
      target_out[r][j] = tgt[j];
      target_in[r][j] = j == 0 ? config.bos_id : tgt[j - 1];
    }
    // A cut target still ends with its EOS (as the source does): a model trained on cut targets learns to stop.
    if (m > 0 && static_cast<int64_t>(tgt.size()) > m) target_out[r][m - 1] = tgt[tgt.size() - 1];
    batch.target_tokens += m;
  }
  // From the lengths, not from `!= pad`: a pad id inside a real sequence must stay visible.
  std::vector<int64_t> lengths(rows);
  for (int64_t r = 0; r < rows; ++r)
    lengths[r] = std::min<int64_t>(dataset.source_length(indices[r]), config.max_source_positions);
  batch.source_mask =
      torch::arange(src_len, torch::kInt64).unsqueeze(0) < torch::tensor(lengths, torch::kInt64).unsqueeze(1);
  return batch;
}

}  // namespace pyramidion

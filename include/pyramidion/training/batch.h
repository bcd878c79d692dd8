#pragma once
// A training batch: examples from a BinaryDataset collated into right-padded tensors for teacher forcing.
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/model_config.h"

namespace pyramidion {

struct Batch {
  torch::Tensor source;          // (batch, src_len) int64, right-padded with pad_id
  torch::Tensor source_mask;     // (batch, src_len) bool, true = real token
  torch::Tensor target_in;       // (batch, tgt_len) int64: bos + target[:-1]
  torch::Tensor target_out;      // (batch, tgt_len) int64: target (ends in EOS), pad_id where padded
  std::vector<int64_t> indices;  // example index in the dataset, per row
  int64_t source_tokens = 0;     // real (unpadded) tokens
  int64_t target_tokens = 0;     // real target tokens = tokens the loss counts

  Batch to(const torch::Device& device) const;
};

// Sources longer than max_source_positions keep their first max_source_positions - 1 tokens + their last (EOS);
// targets are cut to max_target_positions tokens. On the CPU.
Batch collate_batch(const data::BinaryDataset& dataset, const std::vector<int64_t>& indices, const ModelConfig& config);

// Lengths as collate_batch will see them (after the cuts above), for batching.
std::vector<int64_t> clipped_source_lengths(const data::BinaryDataset& dataset, const ModelConfig& config);
std::vector<int64_t> clipped_target_lengths(const data::BinaryDataset& dataset, const ModelConfig& config);

}  // namespace pyramidion

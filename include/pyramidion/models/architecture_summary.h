#pragma once
// What a config costs before anything is trained: parameters, per-layer lengths, attention FLOPs and activation
// memory per document, and the order-of-magnitude memory of a training step or a generation run. Used by
// `pyramidion describe` and the benchmark.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/models/model_config.h"

namespace pyramidion {

// Forward pass, one document. FLOPs count a multiply-add as 2 and cover the q/k/v/output projections and the two
// attention products (QK^T and probabilities x V), padding of a partial last block included. Activation bytes are
// what training keeps for backward in the math path: attention probabilities (heads x query x key) plus the
// q/k/v/output tensors, at bytes_per_element each (fused CUDA kernels keep less than the probabilities).
struct AttentionCost {
  double flops = 0;
  double activation_bytes = 0;
  AttentionCost& operator+=(const AttentionCost& other) {
    flops += other.flops;
    activation_bytes += other.activation_bytes;
    return *this;
  }
};

struct EncoderLayerSummary {
  int64_t layer = 0;
  int64_t input_length = 0;   // tokens entering the layer
  int64_t block_size = 0;     // self-attention block (= input_length for full attention)
  int64_t output_length = 0;  // after the pooler, if this layer has one
  bool pooled = false;
  AttentionCost self_attention;
};

struct SummaryOptions {
  int64_t source_length = 0;      // 0 = config.max_source_positions
  int64_t target_length = 0;      // 0 = config.max_target_positions
  int64_t bytes_per_element = 4;  // 4 = float32, 2 = bf16
};

struct ArchitectureSummary {
  int64_t parameters = 0;
  int64_t source_length = 0;
  int64_t target_length = 0;
  int64_t bytes_per_element = 4;
  std::vector<EncoderLayerSummary> encoder_layers;
  int64_t decoder_memory_length = 0;
  AttentionCost encoder_self;   // all encoder layers
  AttentionCost decoder_cross;  // all decoder layers
  AttentionCost decoder_self;   // all decoder layers (full causal matrix counted)

  std::vector<int64_t> encoder_lengths() const;  // output length of each encoder layer
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// Parameters of the built model: SummarizationModel(config)->parameter_count() (built on the CPU to count).
int64_t count_parameters(const ModelConfig& config);

ArchitectureSummary summarize_architecture(const ModelConfig& config, const SummaryOptions& options = {});

// Estimated peak bytes of a training step / a generation run (weights, gradients and AdamW moments, attention
// probabilities as kept by the math path, feed-forward and logits activations). For the --max-memory-gb guard:
// a conservative order of magnitude, not a prediction.
double estimate_training_bytes(const ModelConfig& config, int64_t length, int64_t batch, int64_t target_length,
                               int64_t bytes_per_element);
double estimate_inference_bytes(const ModelConfig& config, int64_t length, int64_t documents, int64_t beam,
                                int64_t gen_tokens, int64_t bytes_per_element);

}  // namespace pyramidion

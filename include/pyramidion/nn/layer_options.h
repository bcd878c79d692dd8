#pragma once
// Hyper-parameters shared by the encoder and decoder layers.
#include <cstdint>
#include <string>

#include "pyramidion/nn/attention.h"

namespace pyramidion {

enum class Activation { relu, gelu };

struct TransformerLayerOptions {
  int64_t dim = 512;
  int64_t heads = 8;
  int64_t ffn_dim = 2048;
  double dropout = 0.1;             // on each sub-layer's output, before the residual sum
  double attention_dropout = 0.1;   // on attention probabilities
  double activation_dropout = 0.0;  // inside the feed-forward block, after the activation
  Activation activation = Activation::relu;
  bool normalize_before = false;  // pre-norm; default post-norm as in the paper's fairseq code
  AttentionBackend attention_backend = AttentionBackend::automatic;
};

}  // namespace pyramidion

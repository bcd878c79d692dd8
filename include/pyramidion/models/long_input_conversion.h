#pragma once
// Long-input conversion of a (typically imported) model, as LED did for BART: a longer encoder input, blockwise
// attention and pooling, with every existing weight copied. With no pooling and chunk_size 0 (or inputs within
// one block) the converted model computes what the original did on inputs within the original length.
#include <cstdint>
#include <map>

#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

struct LongInputOptions {
  int64_t max_source_positions = 0;    // 0 = keep; learned positions are extended by copying the table (LED)
  int64_t chunk_size = -1;             // -1 = keep; 0 = full attention
  std::map<int64_t, int64_t> pooling;  // encoder layer -> width (the topk pooler); empty = keep the model's
  // New scorers start with weights N(0, scorer_std^2) and this bias: every score sigmoid(bias) + eps ~ 0.95,
  // nearly equal, so the first updates decide what to keep rather than an arbitrary random ranking.
  double scorer_std = 1e-3;
  double scorer_bias = 3.0;
};

// A new model (eval mode, on the CPU) with `options` applied to `model`'s config. Throws std::invalid_argument
// for a shorter max_source_positions or an invalid resulting config (one line naming the key).
SummarizationModel convert_to_long_input(SummarizationModelImpl& model, const LongInputOptions& options);

}  // namespace pyramidion

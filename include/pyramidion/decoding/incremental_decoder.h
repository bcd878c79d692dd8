#pragma once
// What beam search drives: a decoder that, given the last token of every row, returns next-token
// log-probabilities and keeps its own state (key/value caches) per row.
#include <torch/types.h>

namespace pyramidion {

class IncrementalDecoder {
 public:
  virtual ~IncrementalDecoder() = default;
  // tokens (rows) int64: the last token of each row -> log-probabilities (rows, vocab).
  virtual torch::Tensor step(const torch::Tensor& tokens) = 0;
  // rows (new_rows) int64: new row i continues old row rows[i]; new_rows may be fewer (finished documents).
  virtual void reorder(const torch::Tensor& rows) = 0;
};

}  // namespace pyramidion

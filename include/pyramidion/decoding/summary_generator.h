#pragma once
// Summaries from a SummarizationModel: encode each document once, expand the memory to `beam` rows,
// and run BeamSearch over the decoder's key/value cache.
#include <torch/types.h>

#include <vector>

#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

struct GenerationOptions {
  BeamSearchOptions search;
  // Pack documents into generation batches of at most this many source tokens (beam rows not counted).
  int64_t max_source_tokens_per_batch = 16384;
  int64_t max_documents_per_batch = 32;
};

// Runs the model's decoder for BeamSearch (log-softmax over its logits).
class ModelIncrementalDecoder : public IncrementalDecoder {
 public:
  ModelIncrementalDecoder(SummarizationModel model, DecoderCache cache);
  torch::Tensor step(const torch::Tensor& tokens) override;  // tokens (rows) -> log-probs (rows, vocab)
  void reorder(const torch::Tensor& rows) override;          // rows (new_rows)

 private:
  SummarizationModel model_;
  DecoderCache cache_;
  torch::Device device_;
};

class SummaryGenerator {
 public:
  SummaryGenerator(SummarizationModel model, GenerationOptions options);

  // source (batch, src_len) int64, source_mask (batch, src_len) bool -> per document, up to nbest
  // hypotheses, best first. Runs under NoGradGuard and puts the model in eval mode for the call.
  std::vector<std::vector<Hypothesis>> generate(const torch::Tensor& source, const torch::Tensor& source_mask);

  // Token-id documents of any lengths (truncated to max_source_positions, EOS appended when missing), batched
  // by length; results in input order.
  std::vector<std::vector<Hypothesis>> generate(const std::vector<std::vector<int64_t>>& documents);

  const GenerationOptions& options() const { return options_; }

 private:
  SummarizationModel model_;
  GenerationOptions options_;
};

}  // namespace pyramidion

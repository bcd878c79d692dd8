#pragma once
// One generation batch from a SummarizationModel: encode the documents once, expand the memory to `beam` rows
// and run BeamSearch over the decoder's key/value cache. The layer below Summarizer (which tokenizes, batches by
// length and detokenizes); benchmarks time it directly.
#include <torch/types.h>

#include <vector>

#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

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

struct GeneratedBatch {
  std::vector<std::vector<Hypothesis>> hypotheses;  // per document, up to nbest, best first
  EncoderOutput encoded;                            // the encoder's output (memory + pooling records), batch rows
};

class SummaryGenerator {
 public:
  SummaryGenerator(SummarizationModel model, BeamSearchOptions search, SpecialTokenIds special);

  // source (batch, src_len) int64, source_mask (batch, src_len) bool, right-padded. Runs under inference mode;
  // the model must be in eval mode (throws std::logic_error otherwise: generation never switches it). Thread-safe.
  // document_ids (batch): each document's sampling stream (BeamSearchOptions::document_ids); empty = 0, 1, ...
  GeneratedBatch generate(const torch::Tensor& source, const torch::Tensor& source_mask,
                          const std::vector<int64_t>& document_ids = {}) const;

  const BeamSearchOptions& options() const { return search_; }

 private:
  SummarizationModel model_;
  BeamSearchOptions search_;
  SpecialTokenIds special_;
};

}  // namespace pyramidion

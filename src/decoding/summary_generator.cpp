#include "pyramidion/decoding/summary_generator.h"

#include <torch/torch.h>

#include <stdexcept>

namespace pyramidion {

ModelIncrementalDecoder::ModelIncrementalDecoder(SummarizationModel model, DecoderCache cache)
    : model_(std::move(model)), cache_(std::move(cache)), device_(model_->parameters().front().device()) {}

torch::Tensor ModelIncrementalDecoder::step(const torch::Tensor& tokens) {
  auto logits = model_->decode_step(tokens.to(device_), cache_);  // (rows, vocab)
  return torch::log_softmax(logits.to(torch::kFloat), -1);
}

// The cache reads the rows on the host (to keep documents' memory rows shared) and moves them itself.
void ModelIncrementalDecoder::reorder(const torch::Tensor& rows) { cache_.reorder(rows); }

SummaryGenerator::SummaryGenerator(SummarizationModel model, BeamSearchOptions search, SpecialTokenIds special)
    : model_(std::move(model)), search_(search), special_(special) {}

GeneratedBatch SummaryGenerator::generate(const torch::Tensor& source, const torch::Tensor& source_mask,
                                          const std::vector<int64_t>& document_ids) const {
  // Dropout would make summaries random, and switching modes here would race with other callers.
  if (model_->is_training())
    throw std::logic_error("SummaryGenerator: the model is in training mode (call model->eval() first)");
  c10::InferenceMode inference;
  SummarizationModel model = model_;  // a handle to the same module: encode() is not const, but reads only
  const auto device = model->parameters().front().device();
  const int64_t batch = source.size(0), beam = search_.beam;
  GeneratedBatch out;
  out.encoded = model->encode(source.to(device), source_mask.to(device));
  auto rows = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device)).repeat_interleave(beam);
  auto cache = model->start_decoding(out.encoded);
  cache.reorder(rows);  // the cross-attention keys/values are computed once per document, then expanded
  ModelIncrementalDecoder decoder(model, std::move(cache));
  auto lengths_tensor = source_mask.sum(1).to(torch::kCPU, torch::kLong).contiguous();
  std::vector<int64_t> lengths(lengths_tensor.data_ptr<int64_t>(), lengths_tensor.data_ptr<int64_t>() + batch);
  BeamSearchOptions search_options = search_;
  search_options.document_ids = document_ids;
  BeamSearch search(std::move(search_options), special_);
  out.hypotheses = search.search(decoder, lengths, model_->config().max_target_positions);
  return out;
}

}  // namespace pyramidion

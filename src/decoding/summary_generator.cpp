#include "pyramidion/decoding/summary_generator.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

namespace pyramidion {

ModelIncrementalDecoder::ModelIncrementalDecoder(SummarizationModel model, DecoderCache cache)
    : model_(std::move(model)), cache_(std::move(cache)), device_(model_->parameters().front().device()) {}

torch::Tensor ModelIncrementalDecoder::step(const torch::Tensor& tokens) {
  auto logits = model_->decode_step(tokens.to(device_), cache_);  // (rows, vocab)
  return torch::log_softmax(logits.to(torch::kFloat), -1);
}

// The cache reads the rows on the host (to keep documents' memory rows shared) and moves them itself.
void ModelIncrementalDecoder::reorder(const torch::Tensor& rows) { cache_.reorder(rows); }

SummaryGenerator::SummaryGenerator(SummarizationModel model, GenerationOptions options)
    : model_(std::move(model)), options_(options) {}

std::vector<std::vector<Hypothesis>> SummaryGenerator::generate(const torch::Tensor& source,
                                                                const torch::Tensor& source_mask) {
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  const auto device = model_->parameters().front().device();
  const int64_t batch = source.size(0), beam = options_.search.beam;
  auto memory = model_->encode(source.to(device), source_mask.to(device));
  auto rows = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(device)).repeat_interleave(beam);
  auto cache = model_->start_decoding(memory);
  cache.reorder(rows);  // the cross-attention keys/values are computed once per document, then expanded
  ModelIncrementalDecoder decoder(model_, std::move(cache));
  auto lengths_tensor = source_mask.sum(1).to(torch::kCPU);
  std::vector<int64_t> lengths(lengths_tensor.data_ptr<int64_t>(), lengths_tensor.data_ptr<int64_t>() + batch);
  const auto& config = model_->config();
  BeamSearch search(options_.search, SpecialTokenIds{config.pad_id, /*unk=*/1, config.bos_id, config.eos_id});
  auto result = search.search(decoder, lengths, config.max_target_positions);
  if (was_training) model_->train();
  return result;
}

std::vector<std::vector<Hypothesis>> SummaryGenerator::generate(const std::vector<std::vector<int64_t>>& documents) {
  const auto& config = model_->config();
  std::vector<std::vector<int64_t>> docs = documents;
  for (auto& d : docs) {
    if (d.empty() || d.back() != config.eos_id) d.push_back(config.eos_id);
    if (static_cast<int64_t>(d.size()) > config.max_source_positions) {
      d.resize(config.max_source_positions);
      d.back() = config.eos_id;
    }
  }
  // Longest first, so each batch holds documents of similar length.
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return docs[a].size() > docs[b].size(); });
  std::vector<std::vector<Hypothesis>> results(docs.size());
  size_t start = 0;
  while (start < order.size()) {
    const int64_t longest = static_cast<int64_t>(docs[order[start]].size());
    size_t end = start + 1;
    while (end < order.size() && static_cast<int64_t>(end - start) < options_.max_documents_per_batch &&
           longest * static_cast<int64_t>(end - start + 1) <= options_.max_source_tokens_per_batch)
      ++end;
    const int64_t count = static_cast<int64_t>(end - start);
    auto source = torch::full({count, longest}, config.pad_id, torch::kLong);
    auto mask = torch::zeros({count, longest}, torch::kBool);
    for (int64_t i = 0; i < count; ++i) {
      const auto& d = docs[order[start + i]];
      const int64_t len = static_cast<int64_t>(d.size());
      source[i].narrow(0, 0, len).copy_(torch::tensor(d, torch::kLong));
      mask[i].narrow(0, 0, len).fill_(true);
    }
    auto batch_results = generate(source, mask);
    for (int64_t i = 0; i < count; ++i) results[order[start + i]] = std::move(batch_results[i]);
    start = end;
  }
  return results;
}

}  // namespace pyramidion

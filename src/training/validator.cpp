#include "pyramidion/training/validator.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/evaluation/corpus_evaluation.h"
#include "pyramidion/models/eval_mode_scope.h"
#include "pyramidion/nn/copy_attention.h"
#include "pyramidion/training/batch.h"
#include "pyramidion/training/label_smoothed_cross_entropy.h"
#include "pyramidion/training/mixed_precision.h"
#include "pyramidion/training/token_budget_batcher.h"

namespace pyramidion {
namespace {

// The reference ROUGE scores a validation summary against: the full reference text the dataset keeps (sentences
// joined by "\n"; version 2 valid/test splits), else the target tokens decoded by the tokenizer (<sep> -> "\n"),
// which are cut at max_target_length. The one place that decides what the reference is.
std::string reference_text(const data::Tokenizer& tokenizer, const data::BinaryDataset& dataset, size_t i) {
  if (dataset.has_references()) return std::string(dataset.reference(i));
  return tokenizer.decode(dataset.target(i).to_vector());
}

}  // namespace

double ValidationResult::metric(ValidationMetric which) const {
  switch (which) {
    case ValidationMetric::loss:
      return loss;
    case ValidationMetric::rouge1:
      return rouge.rouge1.fmeasure;
    case ValidationMetric::rouge2:
      return rouge.rouge2.fmeasure;
    case ValidationMetric::rougeL:
      return rouge.rougeL.fmeasure;
    case ValidationMetric::rougeLsum:
      return rouge.rougeLsum.fmeasure;
  }
  return loss;
}

ValidatorOptions ValidatorOptions::from_config(const TrainingConfig& config, AmpMode amp) {
  ValidatorOptions o;
  o.label_smoothing = config.label_smoothing;
  o.max_tokens = config.valid_max_tokens > 0 ? config.valid_max_tokens : config.max_tokens;
  o.amp = amp;
  o.rouge_documents = config.valid_subset_size;
  o.search = config.valid_search;
  return o;
}

Validator::Validator(SummarizationModel model, torch::Device device, std::string tokenizer_bytes,
                     ValidatorOptions options)
    : model_(std::move(model)), device_(device), tokenizer_bytes_(std::move(tokenizer_bytes)), options_(options) {}

Validator::~Validator() = default;

ValidationResult Validator::validate(const data::BinaryDataset& dataset, int64_t update) {
  const auto start = std::chrono::steady_clock::now();
  ValidationResult result;
  result.update = update;
  EvalModeScope eval_mode(model_);  // back to the previous mode on every exit, exceptions included
  add_loss(dataset, result);
  if (computes_rouge()) add_rouge(dataset, result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void Validator::add_loss(const data::BinaryDataset& dataset, ValidationResult& result) const {
  torch::NoGradGuard no_grad;
  SummarizationModel model = model_;  // a handle to the same module (encode/decode are not const)
  const auto& mc = model->config();
  BatchingOptions batching;
  batching.max_tokens = options_.max_tokens;
  batching.shuffle = false;
  double loss_sum = 0, nll_sum = 0, entropy_sum = 0, entropy_batches = 0;
  const int64_t rank = reducer_ ? reducer_->rank() : 0, world_size = reducer_ ? reducer_->world_size() : 1;
  const auto all_batches =
      make_token_budget_batches(clipped_source_lengths(dataset, mc), clipped_target_lengths(dataset, mc), batching, 0);
  for (const auto& indices : shard_batches(all_batches, rank, world_size)) {
    const Batch batch = collate_batch(dataset, indices, mc).to(device_);
    AutocastScope autocast(options_.amp);
    const EncoderOutput encoded = model->encode(batch.source, batch.source_mask);
    const auto loss = label_smoothed_cross_entropy(model->decode(batch.target_in, encoded), batch.target_out,
                                                   options_.label_smoothing, mc.pad_id);
    loss_sum += loss.loss.item<double>();
    nll_sum += loss.nll_loss.item<double>();
    result.tokens += loss.tokens;
    if (encoded.copy.defined() && !encoded.pooling.empty()) {
      entropy_sum += provenance_entropy(encoded.copy).item<double>();
      entropy_batches += 1;
    }
  }
  if (world_size > 1) {
    std::vector<double> sums{loss_sum, nll_sum, static_cast<double>(result.tokens), entropy_sum, entropy_batches};
    reducer_->sum_scalars(sums);
    loss_sum = sums[0];
    nll_sum = sums[1];
    result.tokens = static_cast<int64_t>(sums[2]);
    entropy_sum = sums[3];
    entropy_batches = sums[4];
  }
  if (entropy_batches > 0) result.provenance_entropy = entropy_sum / entropy_batches;
  const double tokens = static_cast<double>(std::max<int64_t>(result.tokens, 1));
  result.loss = loss_sum / tokens;
  result.nll_loss = nll_sum / tokens;
  result.perplexity = std::exp(result.nll_loss);
}

void Validator::add_rouge(const data::BinaryDataset& dataset, ValidationResult& result) {
  if (!tokenizer_) tokenizer_ = std::make_shared<const data::Tokenizer>(data::Tokenizer::from_bytes(tokenizer_bytes_));
  const size_t count = std::min<size_t>(dataset.size(), static_cast<size_t>(options_.rouge_documents));
  if (count == 0) return;
  // Several processes: documents rank, rank + N, ... here; the per-document score sums are reduced below.
  const size_t rank = reducer_ ? static_cast<size_t>(reducer_->rank()) : 0;
  const size_t world_size = reducer_ ? static_cast<size_t>(reducer_->world_size()) : 1;
  std::vector<size_t> mine;
  std::vector<std::vector<int64_t>> documents;
  for (size_t i = rank; i < count; i += world_size) {
    mine.push_back(i);
    documents.push_back(dataset.source(i).to_vector());
  }
  // The best summary of each document (the model is in eval mode: validate()'s EvalModeScope), scored against the
  // reference through the one corpus evaluation of evaluation/.
  if (!documents.empty()) {
    std::vector<std::string> references;
    for (size_t i : mine) references.push_back(reference_text(*tokenizer_, dataset, i));
    CorpusEvaluationOptions evaluation;
    evaluation.generation.search = options_.search;
    evaluation.generation.search.nbest = 1;
    const Summarizer summarizer(model_, tokenizer_);
    result.rouge = sum_scores(evaluate_corpus(summarizer, documents, references, evaluation).scores);
  }
  RougeScore* const all[] = {&result.rouge.rouge1, &result.rouge.rouge2, &result.rouge.rougeL, &result.rouge.rougeLsum};
  if (world_size > 1) {
    std::vector<double> sums;
    for (RougeScore* s : all) sums.insert(sums.end(), {s->precision, s->recall, s->fmeasure});
    reducer_->sum_scalars(sums);
    for (size_t j = 0; j < 4; ++j) {
      all[j]->precision = sums[3 * j];
      all[j]->recall = sums[3 * j + 1];
      all[j]->fmeasure = sums[3 * j + 2];
    }
  }
  result.rouge = divide_scores(result.rouge, static_cast<double>(count));
  result.has_rouge = true;
  result.rouge_documents = static_cast<int64_t>(count);
}

}  // namespace pyramidion

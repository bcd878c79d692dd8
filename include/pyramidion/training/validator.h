#pragma once
// Validation: the label-smoothed loss, NLL and perplexity per target token over a dataset, and ROUGE of the
// summaries that pyramidion::Summarizer generates for its first documents against their reference text.
// The model runs in eval mode for the call (models/eval_mode_scope.h) and is put back in its previous mode even when
// validation throws.
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/decoding/beam_search.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/training/gradient_reducer.h"
#include "pyramidion/training/mixed_precision.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {
namespace data {
class Tokenizer;
}

struct ValidationResult {
  int64_t update = 0;
  double loss = 0;                           // label-smoothed loss per target token (nats)
  double nll_loss = 0;                       // -log p per target token (nats)
  double perplexity = 0;                     // exp(nll_loss)
  int64_t tokens = 0;                        // target tokens the loss counted
  std::optional<double> provenance_entropy;  // copy attention with pooling: mean nats per pooled slot (0 = sharp)
  bool has_rouge = false;
  RougeScores rouge;  // mean over documents of precision, recall and F-measure
  int64_t rouge_documents = 0;
  double seconds = 0;

  double metric(ValidationMetric which) const;  // F-measure for rouge*
};

struct ValidatorOptions {
  double label_smoothing = 0.1;
  int64_t max_tokens = 16384;  // token budget of the loss batches
  AmpMode amp = AmpMode::none;
  int64_t rouge_documents = 100;  // first N documents summarized for ROUGE; 0 = loss only
  BeamSearchOptions search = TrainingConfig::default_valid_search();

  static ValidatorOptions from_config(const TrainingConfig& config, AmpMode amp);  // the valid_* keys
};

class Validator {
 public:
  // `model` is on `device`. tokenizer_bytes may be empty: then validation computes the loss only. The tokenizer
  // is made from them on the first ROUGE validation.
  Validator(SummarizationModel model, torch::Device device, std::string tokenizer_bytes, ValidatorOptions options);
  ~Validator();

  // Loss over all of `dataset`, ROUGE over its first rouge_documents documents; result.update = `update`.
  ValidationResult validate(const data::BinaryDataset& dataset, int64_t update);

  bool computes_rouge() const { return !tokenizer_bytes_.empty() && options_.rouge_documents > 0; }
  ValidatorOptions& options() { return options_; }  // e.g. a curriculum stage's token budget
  // Several processes: each validates its shard (loss batches r, r + N, ...; ROUGE documents likewise) and the
  // sums are reduced, so every rank gets the same result. nullptr = one process.
  void set_reducer(std::shared_ptr<GradientReducer> reducer) { reducer_ = std::move(reducer); }

 private:
  void add_loss(const data::BinaryDataset& dataset, ValidationResult& result) const;
  void add_rouge(const data::BinaryDataset& dataset, ValidationResult& result);

  SummarizationModel model_;
  torch::Device device_;
  std::string tokenizer_bytes_;
  std::shared_ptr<const data::Tokenizer> tokenizer_;  // either kind (data/any_tokenizer.h)
  ValidatorOptions options_;
  std::shared_ptr<GradientReducer> reducer_;
};

}  // namespace pyramidion

#include "pyramidion/training/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/models/eval_mode_scope.h"
#include "pyramidion/training/label_smoothed_cross_entropy.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/progress.h"

namespace pyramidion {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::Device resolve_device(const std::string& name) {
  try {
    return parse_device(name);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("training.device: ") + e.what());
  }
}


void add_scores(RougeScore& total, const RougeScore& s) {
  total.precision += s.precision;
  total.recall += s.recall;
  total.fmeasure += s.fmeasure;
}
void divide_scores(RougeScore& s, double n) {
  s.precision /= n;
  s.recall /= n;
  s.fmeasure /= n;
}

// checkpoint_<update>.pt files beyond the newest `keep` are removed with their state files.
void remove_old_periodic_checkpoints(const std::string& dir, int64_t keep) {
  std::vector<std::pair<int64_t, std::string>> periodic;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "checkpoint_", suffix = ".pt";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    periodic.emplace_back(std::stoll(digits), entry.path().string());
  }
  std::sort(periodic.begin(), periodic.end());
  for (size_t i = 0; i + static_cast<size_t>(keep) < periodic.size(); ++i) remove_checkpoint(periodic[i].second);
}

SummarizationModel seeded_model(const ModelConfig& config, int64_t seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));  // reproducible initial weights
  return SummarizationModel(config);
}

}  // namespace

double ValidationResult::metric(ValidationMetric which) const {
  switch (which) {
    case ValidationMetric::loss: return loss;
    case ValidationMetric::rouge1: return rouge.rouge1.fmeasure;
    case ValidationMetric::rouge2: return rouge.rouge2.fmeasure;
    case ValidationMetric::rougeL: return rouge.rougeL.fmeasure;
    case ValidationMetric::rougeLsum: return rouge.rougeLsum.fmeasure;
  }
  return loss;
}

Trainer::Trainer(SummarizationModel model, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      model_(std::move(model)),
      device_(resolve_device(config_.device)),
      train_(std::move(train)),
      valid_(std::move(valid)),
      tokenizer_bytes_(std::move(tokenizer_bytes)) {
  initialize();
}

Trainer::Trainer(const ModelConfig& model_config, TrainingConfig config, std::shared_ptr<data::BinaryDataset> train,
                 std::shared_ptr<data::BinaryDataset> valid, std::string tokenizer_bytes, TrainerOptions options)
    : Trainer(seeded_model(model_config, config.seed), std::move(config),
              std::move(train), std::move(valid), std::move(tokenizer_bytes), std::move(options)) {}

Trainer::~Trainer() = default;

void Trainer::initialize() {
  config_.validate();
  if (!train_ || train_->size() == 0) throw std::invalid_argument("the training set is empty");
  const auto& mc = model_->config();
  if (train_->vocab_size() > mc.vocab_size)
    throw std::invalid_argument(train_->path() + ": token ids up to " + std::to_string(train_->vocab_size()) +
                                " but the model's vocab_size is " + std::to_string(mc.vocab_size));
  if (config_.metric_maximized() && (tokenizer_bytes_.empty() || config_.valid_subset_size == 0 || !valid_))
    throw std::invalid_argument("training.best_checkpoint_metric: " + name_of(config_.best_checkpoint_metric) +
                                " needs ROUGE validation (a tokenizer, a validation set and valid_subset_size > 0)");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw std::invalid_argument("trainer: rank must be in 0..world_size-1");
  amp_ = config_.amp;
  if (amp_ != AmpMode::none && !device_.is_cuda()) {
    spdlog::warn("training.amp: {} needs CUDA; training on the CPU in float32", name_of(amp_));
    amp_ = AmpMode::none;
  }
  if (config_.threads > 0) torch::set_num_threads(static_cast<int>(config_.threads));
  torch::manual_seed(static_cast<uint64_t>(config_.seed));  // dropout stream
  model_->to(device_);
  model_->train();
  torch::optim::AdamWOptions adam(config_.lr);
  adam.betas({config_.adam_betas[0], config_.adam_betas[1]});
  adam.eps(config_.adam_eps);
  adam.weight_decay(config_.weight_decay);
  optimizer_ = std::make_unique<torch::optim::AdamW>(model_->parameters(), adam);
  schedule_ = LrSchedule::from_config(config_);
  train_source_lengths_ = clipped_source_lengths(*train_, mc);
  train_target_lengths_ = clipped_target_lengths(*train_, mc);
  state_.train_examples = static_cast<int64_t>(train_->size());
  state_.loss_scale = loss_scaler_.scale();
  if (!options_.save_dir.empty()) fs::create_directories(options_.save_dir);
}

std::vector<ExampleBatch> Trainer::epoch_batches(int64_t epoch) const {
  BatchingOptions batching;
  batching.max_tokens = config_.max_tokens;
  batching.sort_window = config_.sort_window;
  batching.seed = static_cast<uint64_t>(config_.seed);
  return shard_batches(make_token_budget_batches(train_source_lengths_, train_target_lengths_, batching, epoch),
                       options_.rank, options_.world_size);
}

double Trainer::learning_rate() const { return schedule_.rate(state_.update + 1); }

void Trainer::on_validation(ValidationCallback callback) { callbacks_.push_back(std::move(callback)); }
void Trainer::set_auxiliary_loss(AuxiliaryLoss loss) { auxiliary_loss_ = std::move(loss); }
void Trainer::request_stop() { stop_requested_.store(true); }

void Trainer::set_train_dataset(std::shared_ptr<data::BinaryDataset> dataset, int64_t max_tokens) {
  if (!dataset || dataset->size() == 0) throw std::invalid_argument("set_train_dataset: the training set is empty");
  if (max_tokens < 0) throw std::invalid_argument("set_train_dataset: max_tokens must be >= 0");
  if (max_tokens > 0) config_.max_tokens = max_tokens;
  train_ = std::move(dataset);
  train_source_lengths_ = clipped_source_lengths(*train_, model_->config());
  train_target_lengths_ = clipped_target_lengths(*train_, model_->config());
  if (state_.batch_in_epoch > 0) ++state_.epoch;
  state_.batch_in_epoch = 0;
  state_.train_examples = static_cast<int64_t>(train_->size());
  epoch_order_for_ = -1;
}

void Trainer::set_valid_dataset(std::shared_ptr<data::BinaryDataset> dataset) { valid_ = std::move(dataset); }

std::optional<std::vector<ExampleBatch>> Trainer::next_update_batches() {
  std::vector<ExampleBatch> group;
  while (static_cast<int64_t>(group.size()) < config_.update_freq) {
    if (epoch_order_for_ != state_.epoch) {
      epoch_order_ = epoch_batches(state_.epoch);
      epoch_order_for_ = state_.epoch;
    }
    if (state_.batch_in_epoch >= static_cast<int64_t>(epoch_order_.size())) {
      if (config_.max_epochs > 0 && state_.epoch >= config_.max_epochs) break;
      ++state_.epoch;
      state_.batch_in_epoch = 0;
      continue;
    }
    group.push_back(epoch_order_[static_cast<size_t>(state_.batch_in_epoch++)]);
  }
  if (group.empty()) return std::nullopt;
  return group;
}

Trainer::UpdateResult Trainer::train_step(const std::vector<ExampleBatch>& batches) {
  UpdateResult result;
  result.lr = schedule_.rate(state_.update + 1);
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(result.lr);
  optimizer_->zero_grad();
  model_->train();

  // Gradients are normalized by the update's target tokens (all accumulated batches), so update_freq k with
  // batches of n examples matches one batch of k * n.
  int64_t update_tokens = 0;
  for (const auto& batch : batches)
    for (int64_t i : batch) update_tokens += train_target_lengths_[static_cast<size_t>(i)];
  const double scale = amp_ == AmpMode::fp16 ? loss_scaler_.scale() : 1.0;
  const int64_t pad_id = model_->config().pad_id;

  bool finite = true;
  for (const auto& indices : batches) {
    const Batch batch = collate_batch(*train_, indices, model_->config()).to(device_);
    LabelSmoothedLoss loss;
    torch::Tensor objective;  // () summed over tokens
    {
      AutocastScope autocast(amp_);
      const EncoderOutput encoded = model_->encode(batch.source, batch.source_mask);
      const torch::Tensor logits = model_->decode(batch.target_in, encoded);  // (batch, tgt_len, vocab)
      loss = label_smoothed_cross_entropy(logits, batch.target_out, config_.label_smoothing, pad_id);
      objective = loss.loss;
      if (auxiliary_loss_) {
        const torch::Tensor extra = auxiliary_loss_(encoded, batch);  // () per-token scale
        objective = objective + extra.to(objective.scalar_type()) * static_cast<double>(batch.target_tokens);
      }
    }
    const double loss_value = loss.loss.item<double>();
    result.loss_sum += loss_value;
    result.nll_sum += loss.nll_loss.item<double>();
    result.target_tokens += batch.target_tokens;
    result.source_tokens += batch.source_tokens;
    const double objective_value = auxiliary_loss_ ? objective.item<double>() : loss_value;
    if (!finite || !std::isfinite(objective_value)) {  // the rest of the update's batches are consumed unused
      finite = false;
      continue;
    }
    (objective * (scale / static_cast<double>(update_tokens))).backward();
  }

  if (finite) {
    const auto parameters = model_->parameters();
    if (scale != 1.0) {
      torch::NoGradGuard no_grad;
      for (auto& p : parameters)
        if (p.grad().defined()) p.grad().mul_(1.0 / scale);
    }
    const double max_norm = config_.clip_norm > 0 ? config_.clip_norm : std::numeric_limits<double>::infinity();
    result.grad_norm = torch::nn::utils::clip_grad_norm_(parameters, max_norm);
    finite = std::isfinite(result.grad_norm);
  }
  if (amp_ == AmpMode::fp16) loss_scaler_.update(!finite);
  if (!finite) {
    optimizer_->zero_grad();
    ++state_.skipped_updates;
    ++state_.nonfinite_in_a_row;
    return result;
  }
  optimizer_->step();
  ++state_.update;
  state_.nonfinite_in_a_row = 0;
  result.applied = true;
  return result;
}

void Trainer::write_metrics(const nlohmann::ordered_json& record) {
  if (options_.save_dir.empty()) return;
  if (!metrics_) {
    const std::string path = (fs::path(options_.save_dir) / "metrics.jsonl").string();
    if (metrics_keep_until_ < 0) {
      std::error_code ec;
      fs::remove(path, ec);  // a fresh run starts a fresh log
    }
    metrics_ = std::make_unique<MetricsLog>(path, metrics_keep_until_);
  }
  metrics_->write(record);
}

void Trainer::log_interval_record(double lr, double interval_seconds) {
  const auto& s = state_;
  const double tokens = static_cast<double>(std::max<int64_t>(s.interval_target_tokens, 1));
  const double loss = s.interval_loss_sum / tokens;
  const double nll = s.interval_nll_sum / tokens;
  const double grad_norm = s.interval_grad_norm_sum / static_cast<double>(std::max<int64_t>(s.interval_updates, 1));
  const double seconds = std::max(interval_seconds, 1e-9);
  const double tokens_per_s = static_cast<double>(s.interval_source_tokens + s.interval_target_tokens) / seconds;
  const double updates_per_s = static_cast<double>(s.interval_updates) / seconds;
  nlohmann::ordered_json record;
  record["kind"] = "train";
  record["epoch"] = s.epoch;
  record["update"] = s.update;
  record["loss"] = loss;
  record["nll_loss"] = nll;
  record["ppl"] = std::exp(nll);
  record["lr"] = lr;
  record["grad_norm"] = grad_norm;
  record["target_tokens"] = s.interval_target_tokens;
  record["tokens_per_s"] = tokens_per_s;
  record["updates_per_s"] = updates_per_s;
  record["elapsed_s"] = s.training_seconds;
  record["skipped_updates"] = s.skipped_updates;
  if (amp_ == AmpMode::fp16) record["loss_scale"] = loss_scaler_.scale();
  write_metrics(record);
  if (options_.log_lines) {
    std::string eta;
    if (config_.max_updates > 0 && updates_per_s > 0)
      eta = " | eta " + format_duration(static_cast<double>(config_.max_updates - s.update) / updates_per_s);
    spdlog::info("epoch {} | update {} | loss {:.4f} | nll {:.4f} | ppl {:.2f} | lr {:.3e} | gnorm {:.3f} | {:.0f} tok/s | "
                 "{:.2f} upd/s | elapsed {}{}",
                 s.epoch, s.update, loss, nll, std::exp(nll), lr, grad_norm, tokens_per_s, updates_per_s,
                 format_duration(s.training_seconds), eta);
  }
  state_.interval_updates = 0;
  state_.interval_loss_sum = state_.interval_nll_sum = state_.interval_grad_norm_sum = 0.0;
  state_.interval_target_tokens = state_.interval_source_tokens = 0;
}

ValidationResult Trainer::validate() {
  if (!valid_ || valid_->size() == 0) throw std::logic_error("validate(): no validation set");
  const auto start = Clock::now();
  ValidationResult result;
  result.update = state_.update;
  EvalModeScope eval_mode(model_);
  const auto& mc = model_->config();
  {
    torch::NoGradGuard no_grad;
    BatchingOptions batching;
    batching.max_tokens = config_.valid_max_tokens > 0 ? config_.valid_max_tokens : config_.max_tokens;
    batching.shuffle = false;
    double loss_sum = 0, nll_sum = 0;
    for (const auto& indices : make_token_budget_batches(clipped_source_lengths(*valid_, mc),
                                                         clipped_target_lengths(*valid_, mc), batching, 0)) {
      const Batch batch = collate_batch(*valid_, indices, mc).to(device_);
      AutocastScope autocast(amp_);
      const EncoderOutput encoded = model_->encode(batch.source, batch.source_mask);
      const auto loss = label_smoothed_cross_entropy(model_->decode(batch.target_in, encoded), batch.target_out,
                                                     config_.label_smoothing, mc.pad_id);
      loss_sum += loss.loss.item<double>();
      nll_sum += loss.nll_loss.item<double>();
      result.tokens += loss.tokens;
    }
    const double tokens = static_cast<double>(std::max<int64_t>(result.tokens, 1));
    result.loss = loss_sum / tokens;
    result.nll_loss = nll_sum / tokens;
    result.perplexity = std::exp(result.nll_loss);
  }
  if (!tokenizer_bytes_.empty() && config_.valid_subset_size > 0) {
    if (!tokenizer_)
      tokenizer_ = std::make_shared<data::SentencePieceTokenizer>(data::SentencePieceTokenizer::from_bytes(tokenizer_bytes_));
    const size_t count = std::min<size_t>(valid_->size(), static_cast<size_t>(config_.valid_subset_size));
    std::vector<std::vector<int64_t>> documents;
    for (size_t i = 0; i < count; ++i) documents.push_back(valid_->source(i).to_vector());
    GenerationOptions generation;
    generation.search = config_.valid_search;
    generation.search.nbest = 1;
    const auto summaries = Summarizer(model_, tokenizer_).summarize_tokens(documents, generation);
    const RougeScorer scorer;
    for (size_t i = 0; i < count; ++i) {
      const std::string reference = tokenizer_->decode(valid_->target(i).to_vector());  // <sep> -> "\n"
      const std::string prediction = summaries[i].hypotheses.empty() ? "" : summaries[i].hypotheses.front().text;
      const RougeScores scores = scorer.score(reference, prediction);
      add_scores(result.rouge.rouge1, scores.rouge1);
      add_scores(result.rouge.rouge2, scores.rouge2);
      add_scores(result.rouge.rougeL, scores.rougeL);
      add_scores(result.rouge.rougeLsum, scores.rougeLsum);
    }
    if (count > 0) {
      for (RougeScore* s : {&result.rouge.rouge1, &result.rouge.rouge2, &result.rouge.rougeL, &result.rouge.rougeLsum})
        divide_scores(*s, static_cast<double>(count));
      result.has_rouge = true;
      result.rouge_documents = static_cast<int64_t>(count);
    }
  }
  result.seconds = seconds_since(start);
  after_validation(result);
  return result;
}

void Trainer::after_validation(const ValidationResult& result) {
  const double value = result.metric(config_.best_checkpoint_metric);
  const bool improved = std::isfinite(value) &&
                        (!state_.has_best || (config_.metric_maximized() ? value > state_.best_metric : value < state_.best_metric));
  if (improved) {
    state_.has_best = true;
    state_.best_metric = value;
    state_.best_update = result.update;
  }
  last_validation_improved_ = improved;
  state_.last_validated_update = result.update;

  nlohmann::ordered_json record;
  record["kind"] = "valid";
  record["epoch"] = state_.epoch;
  record["update"] = result.update;
  record["loss"] = result.loss;
  record["nll_loss"] = result.nll_loss;
  record["ppl"] = result.perplexity;
  record["tokens"] = result.tokens;
  if (result.has_rouge) {
    record["rouge1"] = result.rouge.rouge1.fmeasure;
    record["rouge2"] = result.rouge.rouge2.fmeasure;
    record["rougeL"] = result.rouge.rougeL.fmeasure;
    record["rougeLsum"] = result.rouge.rougeLsum.fmeasure;
    record["rouge_documents"] = result.rouge_documents;
  }
  record["best_metric"] = name_of(config_.best_checkpoint_metric);
  record["best"] = state_.best_metric;
  record["best_update"] = state_.best_update;
  record["seconds"] = result.seconds;
  write_metrics(record);
  if (options_.log_lines) {
    std::string rouge;
    if (result.has_rouge)
      rouge = fmt::format(" | R1 {:.2f} R2 {:.2f} RL {:.2f} RLsum {:.2f} ({} docs)", 100 * result.rouge.rouge1.fmeasure,
                          100 * result.rouge.rouge2.fmeasure, 100 * result.rouge.rougeL.fmeasure,
                          100 * result.rouge.rougeLsum.fmeasure, result.rouge_documents);
    spdlog::info("valid | epoch {} | update {} | loss {:.4f} | nll {:.4f} | ppl {:.2f}{} | best {} {:.4f} (update {}){} | {:.1f} s",
                 state_.epoch, result.update, result.loss, result.nll_loss, result.perplexity, rouge,
                 name_of(config_.best_checkpoint_metric), state_.best_metric, state_.best_update,
                 improved ? " new best" : "", result.seconds);
  }
  for (const auto& callback : callbacks_) callback(result);
}

std::string Trainer::save_path(const std::string& name) const { return (fs::path(options_.save_dir) / name).string(); }

void Trainer::save_checkpoint(const std::string& path) {
  state_.loss_scale = loss_scaler_.scale();
  state_.loss_scale_clean_updates = loss_scaler_.clean_updates();
  nlohmann::json extra;
  extra["training_config"] = [&] {
    YAML::Emitter out;
    out << config_.to_yaml();
    return std::string(out.c_str());
  }();
  pyramidion::save_checkpoint(path, model_, tokenizer_bytes_, state_, optimizer_.get(), extra);
}

void Trainer::write_validation_checkpoints(const ValidationResult& result, bool improved) {
  if (options_.save_dir.empty()) return;
  save_checkpoint(save_path("checkpoint_last.pt"));
  last_saved_update_ = state_.update;
  if (improved) {
    nlohmann::json extra;
    extra["validation"] = {{"update", result.update}, {"loss", result.loss}, {"nll_loss", result.nll_loss}};
    if (result.has_rouge)
      extra["validation"].update({{"rouge1", result.rouge.rouge1.fmeasure}, {"rouge2", result.rouge.rouge2.fmeasure},
                                  {"rougeL", result.rouge.rougeL.fmeasure}, {"rougeLsum", result.rouge.rougeLsum.fmeasure}});
    pyramidion::save_checkpoint(save_path("checkpoint_best.pt"), model_, tokenizer_bytes_, state_, nullptr, extra);
  }
}

void Trainer::load_checkpoint(const std::string& path) {
  const auto loaded = pyramidion::load_checkpoint(path, model_, optimizer_.get());
  state_ = loaded.state;
  loss_scaler_.restore(state_.loss_scale, state_.loss_scale_clean_updates);
  if (state_.train_examples != static_cast<int64_t>(train_->size())) {
    spdlog::warn("{}: the checkpoint's training set had {} examples, this one has {}: continuing in a fresh epoch",
                 path, state_.train_examples, train_->size());
    if (state_.batch_in_epoch > 0) ++state_.epoch;
    state_.batch_in_epoch = 0;
    state_.train_examples = static_cast<int64_t>(train_->size());
  }
  epoch_order_for_ = -1;
  metrics_.reset();
  metrics_keep_until_ = state_.update;
  last_saved_update_ = state_.update;
  model_->train();
  spdlog::info("resumed from {}: update {}, epoch {} (batch {} of the epoch), best {} {}", path, state_.update,
               state_.epoch, state_.batch_in_epoch, name_of(config_.best_checkpoint_metric),
               state_.has_best ? fmt::format("{:.4f}", state_.best_metric) : std::string("none yet"));
}

TrainingSummary Trainer::run_for(int64_t updates, double max_seconds) { return train_loop(updates, max_seconds, false); }

TrainingSummary Trainer::run() {
  const double max_seconds = config_.max_minutes > 0 ? config_.max_minutes * 60.0 : 0.0;
  return train_loop(std::numeric_limits<int64_t>::max(), max_seconds, true);
}

TrainingSummary Trainer::train_loop(int64_t max_updates_this_call, double max_seconds, bool end_of_run) {
  stop_requested_.store(false);
  const auto start = Clock::now();
  auto interval_start = start;
  TrainingSummary summary;
  double loss_sum = 0, loss_tokens = 0, tokens = 0;

  ProgressOptions progress_options;
  progress_options.label = "train";
  progress_options.unit = "updates";
  progress_options.total = config_.max_updates > 0 ? std::max<int64_t>(config_.max_updates - state_.update, 0) : -1;
  progress_options.mode = options_.progress && ::isatty(2) ? ProgressOptions::Mode::kBar : ProgressOptions::Mode::kOff;
  ProgressBar progress(progress_options);

  while (true) {
    if (config_.max_updates > 0 && state_.update >= config_.max_updates) {
      summary.stop_reason = "max_updates";
      break;
    }
    if (summary.updates >= max_updates_this_call) {
      summary.stop_reason = "run_for";
      break;
    }
    if (max_seconds > 0 && seconds_since(start) >= max_seconds) {
      summary.stop_reason = end_of_run ? "max_minutes" : "run_for";
      break;
    }
    if (const int signal = stop_signal_received()) {
      summary.stop_reason = "signal";
      summary.signal = signal;
      break;
    }
    if (stop_requested_.load()) {
      summary.stop_reason = "requested";
      break;
    }
    auto batches = next_update_batches();
    if (!batches) {
      summary.stop_reason = "max_epochs";
      break;
    }
    const auto step_start = Clock::now();
    const UpdateResult step = train_step(*batches);
    state_.training_seconds += seconds_since(step_start);
    tokens += static_cast<double>(step.source_tokens + step.target_tokens);
    if (!step.applied) {
      spdlog::warn("update {} skipped: non-finite loss or gradient norm ({} in a row, limit {}; {} skipped in total)",
                   state_.update + 1, state_.nonfinite_in_a_row, config_.max_nonfinite_updates, state_.skipped_updates);
      if (state_.nonfinite_in_a_row >= config_.max_nonfinite_updates) {
        spdlog::error("stopping: {} consecutive updates had a NaN/Inf loss or gradient (lower lr, raise warmup_updates, "
                      "or check the data)", state_.nonfinite_in_a_row);
        summary.stop_reason = "nonfinite";
        break;
      }
      continue;
    }
    ++summary.updates;
    summary.last_loss = step.loss_sum / static_cast<double>(std::max<int64_t>(step.target_tokens, 1));
    loss_sum += step.loss_sum;
    loss_tokens += static_cast<double>(step.target_tokens);
    state_.interval_updates += 1;
    state_.interval_loss_sum += step.loss_sum;
    state_.interval_nll_sum += step.nll_sum;
    state_.interval_grad_norm_sum += step.grad_norm;
    state_.interval_target_tokens += step.target_tokens;
    state_.interval_source_tokens += step.source_tokens;
    progress.advance();
    if (state_.update % config_.log_interval == 0) {
      progress.set_field("loss", summary.last_loss, 4);
      progress.set_field("lr", fmt::format("{:.2e}", step.lr));
      log_interval_record(step.lr, seconds_since(interval_start));
      interval_start = Clock::now();
    }
    if (config_.validate_interval > 0 && state_.update % config_.validate_interval == 0 && valid_) {
      const auto result = validate();
      write_validation_checkpoints(result, last_validation_improved_);
    }
    if (config_.save_interval_updates > 0 && state_.update % config_.save_interval_updates == 0 &&
        !options_.save_dir.empty()) {
      save_checkpoint(save_path(fmt::format("checkpoint_{}.pt", state_.update)));
      remove_old_periodic_checkpoints(options_.save_dir, config_.keep_last);
    }
  }
  progress.finish();

  if (end_of_run && summary.stop_reason != "nonfinite") {
    const bool validate_now = config_.validate_at_end && valid_ && summary.stop_reason != "signal" &&
                              state_.last_validated_update != state_.update;
    if (validate_now) {
      const auto result = validate();
      write_validation_checkpoints(result, last_validation_improved_);
    } else if (!options_.save_dir.empty() && last_saved_update_ != state_.update) {
      save_checkpoint(save_path("checkpoint_last.pt"));
      last_saved_update_ = state_.update;
    }
  }
  summary.update = state_.update;
  summary.epoch = state_.epoch;
  summary.seconds = seconds_since(start);
  summary.updates_per_second = summary.seconds > 0 ? static_cast<double>(summary.updates) / summary.seconds : 0;
  summary.tokens_per_second = summary.seconds > 0 ? tokens / summary.seconds : 0;
  summary.mean_loss = loss_tokens > 0 ? loss_sum / loss_tokens : std::numeric_limits<double>::quiet_NaN();
  return summary;
}

}  // namespace pyramidion

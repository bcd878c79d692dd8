#include "pyramidion/training/training_log.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "pyramidion/util/progress.h"

namespace pyramidion {
namespace fs = std::filesystem;

TrainingLogOptions TrainingLogOptions::from_config(const TrainingConfig& config, std::string save_dir, bool log_lines,
                                                   bool is_writer, int64_t world_size) {
  TrainingLogOptions options;
  options.save_dir = std::move(save_dir);
  options.log_lines = log_lines;
  options.is_writer = is_writer;
  options.max_updates = config.max_updates;
  options.best_metric = config.best_checkpoint_metric;
  options.world_size = world_size;
  return options;
}

TrainingLog::TrainingLog(TrainingLogOptions options) : options_(std::move(options)) {}
TrainingLog::~TrainingLog() = default;

void TrainingLog::resume_at(int64_t update) {
  metrics_.reset();
  keep_until_ = update;
}

void TrainingLog::write(const nlohmann::ordered_json& record) {
  if (options_.save_dir.empty() || !options_.is_writer) return;
  if (!metrics_) {
    const std::string path = (fs::path(options_.save_dir) / "metrics.jsonl").string();
    if (keep_until_ < 0) {  // a fresh run starts a fresh log
      std::error_code ec;
      const auto link = fs::symlink_status(path, ec);
      if (fs::is_regular_file(link))
        fs::remove(path, ec);
      else if (fs::is_symlink(link) && fs::is_regular_file(fs::status(path, ec)))
        std::ofstream(path, std::ios::trunc);
      // anything else (a FIFO, a device) is written through as it is (util/atomic_file.h, the output rule)
    }
    metrics_ = std::make_unique<MetricsLog>(path, keep_until_);
  }
  metrics_->write(record);
}

void TrainingLog::interval(const TrainingState& s, double lr, double interval_seconds, std::optional<double> loss_scale,
                           std::optional<double> allreduce_share) {
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
  if (loss_scale) record["loss_scale"] = *loss_scale;
  std::string distributed;
  if (options_.world_size > 1) {
    record["world_size"] = options_.world_size;
    if (allreduce_share) {
      record["allreduce_share"] = *allreduce_share;
      distributed = fmt::format(" | world {} | allreduce {:.0f}%", options_.world_size, 100 * *allreduce_share);
    } else {
      distributed = fmt::format(" | world {}", options_.world_size);
    }
  }
  write(record);
  if (options_.log_lines && options_.is_writer) {
    std::string eta;
    if (options_.max_updates > 0 && updates_per_s > 0)
      eta = " | eta " + format_duration(static_cast<double>(options_.max_updates - s.update) / updates_per_s);
    spdlog::info(
        "epoch {} | update {} | loss {:.4f} | nll {:.4f} | ppl {:.2f} | lr {:.3e} | gnorm {:.3f} | {:.0f} tok/s | "
        "{:.2f} upd/s{} | elapsed {}{}",
        s.epoch, s.update, loss, nll, std::exp(nll), lr, grad_norm, tokens_per_s, updates_per_s, distributed,
        format_duration(s.training_seconds), eta);
  }
}

void TrainingLog::validation(const ValidationResult& result, const TrainingState& state, bool improved) {
  nlohmann::ordered_json record;
  record["kind"] = "valid";
  record["epoch"] = state.epoch;
  record["update"] = result.update;
  record["loss"] = result.loss;
  record["nll_loss"] = result.nll_loss;
  record["ppl"] = result.perplexity;
  record["tokens"] = result.tokens;
  if (result.provenance_entropy) record["provenance_entropy"] = *result.provenance_entropy;
  if (result.has_rouge) {
    record["rouge1"] = result.rouge.rouge1.fmeasure;
    record["rouge2"] = result.rouge.rouge2.fmeasure;
    record["rougeL"] = result.rouge.rougeL.fmeasure;
    record["rougeLsum"] = result.rouge.rougeLsum.fmeasure;
    record["rouge_documents"] = result.rouge_documents;
  }
  record["best_metric"] = name_of(options_.best_metric);
  record["best"] = state.best_metric;
  record["best_update"] = state.best_update;
  record["seconds"] = result.seconds;
  record["elapsed_s"] = state.training_seconds;  // training wall time so far (validation excluded)
  write(record);
  if (options_.log_lines && options_.is_writer) {
    std::string rouge;
    if (result.has_rouge)
      rouge = fmt::format(" | R1 {:.2f} R2 {:.2f} RL {:.2f} RLsum {:.2f} ({} docs)", 100 * result.rouge.rouge1.fmeasure,
                          100 * result.rouge.rouge2.fmeasure, 100 * result.rouge.rougeL.fmeasure,
                          100 * result.rouge.rougeLsum.fmeasure, result.rouge_documents);
    if (result.provenance_entropy) rouge += fmt::format(" | slot entropy {:.3f}", *result.provenance_entropy);
    // ROUGE in one unit on the line: percent, as R1/R2/RL above (metrics.jsonl keeps fractions throughout).
    const bool percent = options_.best_metric != ValidationMetric::loss;
    const std::string best =
        percent ? fmt::format("{:.2f}", 100 * state.best_metric) : fmt::format("{:.4f}", state.best_metric);
    spdlog::info(
        "valid | epoch {} | update {} | loss {:.4f} | nll {:.4f} | ppl {:.2f}{} | best {} {} (update {}){} | {:.1f} s",
        state.epoch, result.update, result.loss, result.nll_loss, result.perplexity, rouge,
        name_of(options_.best_metric), best, state.best_update, improved ? " new best" : "", result.seconds);
  }
}

}  // namespace pyramidion

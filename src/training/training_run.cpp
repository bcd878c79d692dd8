#include "pyramidion/training/training_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/directory_lock.h"
#include "pyramidion/util/runtime.h"

namespace pyramidion {
namespace {
namespace fs = std::filesystem;

std::shared_ptr<data::BinaryDataset> open_split(const fs::path& dir, const std::string& name) {
  const fs::path path = dir / (name + ".bin");
  if (!fs::exists(path))
    throw std::runtime_error(path.string() + ": missing (--data must be a directory from `pyramidion data prepare`)");
  auto dataset = std::make_shared<data::BinaryDataset>(path.string());
  // A flipped byte is found here, naming the file, not as a LibTorch error after some updates.
  dataset->verify();
  return dataset;
}

// Prepared lengths beyond the model's positions are cut at every batch: said once, loudly, with the counts.
void warn_about_cut_lengths(const data::BinaryDataset& train, const ModelConfig& model) {
  for (const auto& [what, lengths, limit] :
       {std::tuple<const char*, const uint32_t*, int64_t>{"source", train.source_lengths(), model.max_source_positions},
        {"target", train.target_lengths(), model.max_target_positions}}) {
    size_t longer = 0;
    for (size_t i = 0; i < train.size(); ++i) longer += lengths[i] > limit;
    if (longer > 0)
      spdlog::warn(
          "{}: {} of {} training {}s are longer than model.max_{}_positions ({}); they are cut to {} tokens "
          "ending in EOS (raise model.max_{}_positions or prepare with a shorter --max-{}-length)",
          train.path(), longer, train.size(), what, what, limit, limit, what, what);
  }
}

// Every rank must resume from the same update (a save dir that only some machines see would split the run).
void check_same_resume_point(GradientReducer& reducer, int64_t update, bool has_checkpoint, const std::string& path) {
  std::vector<double> values{static_cast<double>(update), static_cast<double>(update) * static_cast<double>(update),
                             has_checkpoint ? 1.0 : 0.0};
  reducer.sum_scalars(values);
  const double n = static_cast<double>(reducer.world_size());
  const bool same = values[0] * values[0] == values[1] * n && (values[2] == 0 || values[2] == n);
  if (!same)
    throw std::runtime_error(
        fmt::format("rank {}: the ranks resume from different updates ({} here from {}): every "
                    "machine must see the same --save-dir (a shared file system)",
                    reducer.rank(), update, has_checkpoint ? path : std::string("scratch")));
}

// The job is the program's training run: it applies the process-wide thread count (util/runtime.h); the Trainer,
// a library class, never changes it.
void apply_thread_count(const TrainingConfig& training) {
  if (training.threads > 0) configure_threads(static_cast<int>(training.threads));
}

}  // namespace

void check_training_job(TrainingJob& job) {
  if (!job.train) throw std::invalid_argument("the training set is missing");
  const auto tokenizer = data::Tokenizer::from_bytes(job.tokenizer_bytes);  // SentencePiece or byte-level BPE
  data::check_tokenizer_for_training(tokenizer, job.tokenizer_origin);
  RunConfig& config = job.config;
  // The tokenizer's own special ids (one trained elsewhere may differ from pyramidion's 0/2/3); the model file
  // stores them with the config.
  config.model.pad_id = tokenizer.pad_id();
  config.model.eos_id = tokenizer.eos_id();
  config.model.bos_id = tokenizer.bos_id() >= 0 ? tokenizer.bos_id() : tokenizer.eos_id();
  for (auto [name, on] :
       {std::pair<const char*, bool>{"source_bos", config.model.source_bos}, {"target_bos", config.model.target_bos}})
    if (on && config.model.bos_id == config.model.eos_id)
      throw std::runtime_error("model." + std::string(name) + ": true needs a BOS piece distinct from EOS, which " +
                               job.tokenizer_origin + " does not have");
  if (config.training.max_updates > 0 && config.training.warmup_updates >= config.training.max_updates)
    spdlog::warn(
        "training.warmup_updates ({}) >= training.max_updates ({}): the learning rate never reaches "
        "training.lr ({})",
        config.training.warmup_updates, config.training.max_updates, config.training.lr);
  const uint64_t checksum = data::tokenizer_checksum(job.tokenizer_bytes);
  for (const auto& split : {job.train, job.valid})
    if (split && split->tokenizer_checksum() != 0 && split->tokenizer_checksum() != checksum)  // 0: a version 1 file
      throw std::runtime_error(split->path() + ": prepared with another tokenizer (" +
                               data::tokenizer_checksum_text(split->tokenizer_checksum()) + ") than " +
                               job.tokenizer_origin + " (" + data::tokenizer_checksum_text(checksum) +
                               "); prepare the data again with this tokenizer");
  warn_about_cut_lengths(*job.train, config.model);
  if (job.train->vocab_size() != tokenizer.vocab_size())
    throw std::runtime_error(job.train->path() + ": prepared with a vocabulary of " +
                             std::to_string(job.train->vocab_size()) + " but " + job.tokenizer_origin + " has " +
                             std::to_string(tokenizer.vocab_size()));
}

std::unique_ptr<Trainer> start_training(TrainingJob job) {
  check_training_job(job);
  apply_thread_count(job.config.training);
  return std::make_unique<Trainer>(job.config.model, job.config.training, job.train, job.valid, job.tokenizer_bytes,
                                   job.trainer);
}

TrainingRunResult run_training(const TrainingRunOptions& o) {
  check_config_source(o.config, o.preset);
  if (o.init_from.empty() && (o.init.reset_optimizer || o.init.reset_lr_scheduler))
    throw std::invalid_argument("--reset-optimizer / --reset-lr-scheduler need --init-from");
  const fs::path data_dir(o.data_dir);
  const fs::path save_dir(o.save_dir);
  const fs::path last = save_dir / "checkpoint_last.pt";
  if (!o.init_from.empty() && fs::path(o.init_from).lexically_normal() == last.lexically_normal())
    throw std::invalid_argument("--init-from " + o.init_from + ": that is this run's own checkpoint; use --resume");
  const bool writer = !o.distributed || o.distributed->rank == 0;

  // 1. The data: tokenizer, config resolved against its vocabulary, both splits checked against the tokenizer.
  TrainingJob job;
  job.tokenizer_origin = data::dataset_tokenizer_path(data_dir.string());  // spm.model or byte_level_bpe.json
  if (!fs::exists(job.tokenizer_origin))
    throw std::runtime_error(job.tokenizer_origin +
                             ": missing (--data must be a directory from `pyramidion data prepare`)");
  job.tokenizer_bytes = read_file_bytes(job.tokenizer_origin);
  job.config = resolve_run_config(o.config, o.preset, o.overrides,
                                  data::Tokenizer::from_bytes(job.tokenizer_bytes).vocab_size());
  RunConfig& config = job.config;
  // The framing the data was prepared with is the model's (recorded in its files, applied at inference).
  const data::DatasetFraming framing = data::dataset_framing(data_dir.string());
  if (framing.source_sentence_separators != config.model.source_sentence_separators &&
      config.model.source_sentence_separators)
    spdlog::warn(
        "model.source_sentence_separators: the data in {} was prepared without --source-sep; the model "
        "follows the data",
        data_dir.string());
  config.model.source_sentence_separators = framing.source_sentence_separators;
  // BOS framing is part of what a pretrained model (an imported BART) expects: a model that asks for it refuses
  // data prepared without it; a model that does not ask follows the data.
  for (auto [name, wanted, prepared] :
       {std::tuple<const char*, bool*, bool>{"source_bos", &config.model.source_bos, framing.source_bos},
        {"target_bos", &config.model.target_bos, framing.target_bos}}) {
    const std::string flag = std::string("--") + (name[0] == 's' ? "source" : "target") + "-bos";
    if (*wanted && !prepared)
      throw std::runtime_error(fmt::format(
          "model.{}: the model frames its {}s with BOS, but the data in {} was prepared without {}; prepare it "
          "again with {}",
          name, name[0] == 's' ? "source" : "target", data_dir.string(), flag, flag));
    if (prepared && !*wanted)
      spdlog::info("model.{}: the data in {} was prepared with {}", name, data_dir.string(), flag);
    *wanted = prepared;
  }
  job.train = open_split(data_dir, "train");
  job.valid = open_split(data_dir, "valid");
  check_training_job(job);

  // 2. The save directory: rank 0 owns it (lock, leftovers of an interrupted save, the resolved config).
  if (!o.resume && fs::exists(last))
    throw std::runtime_error(last.string() +
                             " exists: pass --resume to continue that run, or choose another --save-dir");
  std::unique_ptr<DirectoryLock> lock;
  if (writer) {
    lock = std::make_unique<DirectoryLock>(save_dir.string());
    if (const int stale = remove_stale_temporary_files(save_dir.string()))
      spdlog::info("{}: removed {} temporary files left by an interrupted save", save_dir.string(), stale);
    fs::create_directories(save_dir);
    const std::string resolved = config.to_yaml_string();
    spdlog::info("config ({}):\n{}", config.origin, resolved);
    write_file_atomically((save_dir / "config.yaml").string(), resolved);
  }

  // 3. The processes: one GPU per local rank ("auto"/"cuda" become cuda:LOCAL_RANK), then the rendezvous.
  TrainerOptions& trainer_options = job.trainer;
  trainer_options.save_dir = save_dir.string();
  trainer_options.progress = o.progress;
  std::unique_ptr<DistributedContext> context;
  if (o.distributed) {
    const auto& d = *o.distributed;
    const std::string& device = config.training.device;
    const int64_t local_rank = d.local_rank >= 0 ? d.local_rank : d.rank;
    if ((device == "auto" || device == "cuda") && parse_device(device).is_cuda())
      config.training.device = "cuda:" + std::to_string(local_rank);
    spdlog::info("distributed: rank {} of {}: rendezvous at {}:{}, waiting up to {} s (--dist-timeout) for the others",
                 d.rank, d.world_size, d.master_addr, d.master_port, d.timeout_seconds);
    context = std::make_unique<DistributedContext>(d, parse_device(config.training.device));
    spdlog::info("distributed: {} | world size {} | timeout {} s", context->describe(), context->world_size(),
                 d.timeout_seconds);
    trainer_options.rank = context->rank();
    trainer_options.world_size = context->world_size();
    trainer_options.reducer = context->reducer();
  }

  // 4. The trainer, its starting point (resuming an existing run wins over --init-from), the run.
  apply_thread_count(config.training);
  Trainer trainer(config.model, config.training, job.train, job.valid, job.tokenizer_bytes, trainer_options);
  spdlog::info("model: {} parameters | train: {} examples | valid: {} examples | device {}{}",
               trainer.model()->parameter_count(), job.train->size(), job.valid->size(), trainer.device().str(),
               config.training.amp != AmpMode::none && trainer.device().is_cuda()
                   ? " | amp " + name_of(config.training.amp)
                   : "");
  const bool resuming = o.resume && fs::exists(last);
  if (!o.init_from.empty() && resuming)
    spdlog::info("--init-from {}: ignored, {} exists and --resume continues it", o.init_from, last.string());
  else if (!o.init_from.empty())
    trainer.init_from(o.init_from, o.init);
  if (resuming)
    trainer.load_checkpoint(last.string());
  else if (o.resume)
    spdlog::warn("--resume: no {} yet, starting from scratch", last.string());
  if (context) check_same_resume_point(*context->reducer(), trainer.update(), resuming, last.string());

  StopSignalHandler signals;
  TrainingRunResult result;
  result.summary = trainer.run();
  result.last_checkpoint = last.string();
  result.state = trainer.state();
  result.best_metric = name_of(config.training.best_checkpoint_metric);
  return result;
}

}  // namespace pyramidion

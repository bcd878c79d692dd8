// `pyramidion train`: trains a model on a directory from `pyramidion data prepare`, with checkpoints in --save-dir
// that `summarize -m` reads directly and `--resume` continues exactly.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "command.h"
#include "worker_launcher.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/training/distributed_context.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/training/trainer.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/progress.h"
#include "pyramidion/util/device.h"
#include "pyramidion/util/directory_lock.h"

namespace pyramidion::cli {
namespace {
namespace fs = std::filesystem;

struct TrainOptions {
  std::string config;
  std::string preset;
  std::vector<std::string> overrides;
  std::string data_dir;
  std::string save_dir;
  bool resume = false;
  bool no_progress = false;
  std::string init_from;
  InitFromOptions init;
  // Several processes (docs/training.md): a launcher, or one worker of a run.
  int nproc_per_node = 0;  // > 0: start this many local workers
  int nnodes = 1, node_rank = 0;
  std::string dist_url;    // tcp://HOST:PORT; "" = MASTER_ADDR/MASTER_PORT
  int rank = -1, world_size = -1;
  std::string dist_backend = "auto";
  double dist_timeout = 300;
  double bucket_mb = 25;
};

// The worker's side of a multi-process run: from torchrun's variables, then the command-line flags.
std::optional<DistributedOptions> distributed_options(const TrainOptions& o) {
  const bool asked = distributed_environment_present() || o.world_size > 0 || !o.dist_url.empty();
  if (!asked) return std::nullopt;
  DistributedOptions d;
  try {
    d = DistributedOptions::from_environment();
    if (!o.dist_url.empty()) d.set_url(o.dist_url);
    if (o.rank >= 0) d.rank = o.rank;
    if (o.world_size > 0) d.world_size = o.world_size;
    if (d.rank < 0 && d.world_size == 1) d.rank = 0;
    d.backend = o.dist_backend;
    d.timeout_seconds = o.dist_timeout;
    d.bucket_mb = o.bucket_mb;
    d.validate();
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  if (d.world_size == 1) return std::nullopt;
  return d;
}

// Every rank must resume from the same update (a save dir that only some machines see would split the run).
void check_same_resume_point(GradientReducer& reducer, int64_t update, bool has_checkpoint, const std::string& path) {
  std::vector<double> values{static_cast<double>(update), static_cast<double>(update) * static_cast<double>(update),
                             has_checkpoint ? 1.0 : 0.0};
  reducer.sum_scalars(values);
  const double n = static_cast<double>(reducer.world_size());
  const bool same = values[0] * values[0] == values[1] * n && (values[2] == 0 || values[2] == n);
  if (!same)
    throw CommandError(fmt::format("rank {}: the ranks resume from different updates ({} here from {}): every machine "
                                   "must see the same --save-dir (a shared file system)",
                                   reducer.rank(), update, has_checkpoint ? path : std::string("scratch")));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandError(path + ": cannot read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::shared_ptr<data::BinaryDataset> open_split(const fs::path& dir, const std::string& name) {
  const fs::path path = dir / (name + ".bin");
  if (!fs::exists(path))
    throw CommandError(path.string() + ": missing (--data must be a directory from `pyramidion data prepare`)");
  try {
    auto dataset = std::make_shared<data::BinaryDataset>(path.string());
    // A flipped byte is found here, naming the file, not as a LibTorch error after some updates.
    dataset->verify();
    return dataset;
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
}

void run(const TrainOptions& o) {
  const std::optional<DistributedOptions> distributed = distributed_options(o);
  const bool writer = !distributed || distributed->rank == 0;
  if (!writer) spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));  // rank 0 logs for the run
  const fs::path data_dir(o.data_dir);
  const fs::path save_dir(o.save_dir);
  const std::string tokenizer_path = (data_dir / "spm.model").string();
  if (!fs::exists(tokenizer_path))
    throw CommandError(tokenizer_path + ": missing (--data must be a directory from `pyramidion data prepare`)");
  const std::string tokenizer_bytes = read_bytes(tokenizer_path);
  const auto tokenizer = data::SentencePieceTokenizer::from_bytes(tokenizer_bytes);
  try {
    data::check_tokenizer_for_training(tokenizer, tokenizer_path);
  } catch (const std::runtime_error& e) {
    throw CommandError(e.what());
  }

  RunConfig config;
  try {
    config = resolve_run_config(o.config, o.preset, o.overrides, tokenizer.vocab_size());
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  // The tokenizer's own special ids (one trained elsewhere may differ from pyramidion's 0/2/3); the model file
  // stores them with the config.
  config.model.pad_id = tokenizer.pad_id();
  config.model.eos_id = tokenizer.eos_id();
  config.model.bos_id = tokenizer.bos_id() >= 0 ? tokenizer.bos_id() : tokenizer.eos_id();
  // The source framing the data was prepared with is the model's (recorded in its files, applied at inference).
  try {
    const bool separators = data::dataset_source_sentence_separators(data_dir.string());
    if (separators != config.model.source_sentence_separators && config.model.source_sentence_separators)
      spdlog::warn("model.source_sentence_separators: the data in {} was prepared without --source-sep; the model "
                   "follows the data", data_dir.string());
    config.model.source_sentence_separators = separators;
  } catch (const std::runtime_error& e) {
    throw CommandError(e.what());
  }
  if (config.training.max_updates > 0 && config.training.warmup_updates >= config.training.max_updates)
    spdlog::warn("training.warmup_updates ({}) >= training.max_updates ({}): the learning rate never reaches "
                 "training.lr ({})", config.training.warmup_updates, config.training.max_updates, config.training.lr);
  auto train = open_split(data_dir, "train");
  auto valid = open_split(data_dir, "valid");
  const uint64_t checksum = data::tokenizer_checksum(tokenizer_bytes);
  for (const auto& split : {train, valid})
    if (split->tokenizer_checksum() != 0 && split->tokenizer_checksum() != checksum)  // 0: a version 1 file
      throw CommandError(split->path() + ": prepared with another tokenizer (" +
                         data::tokenizer_checksum_text(split->tokenizer_checksum()) + ") than " + tokenizer_path + " (" +
                         data::tokenizer_checksum_text(checksum) + "); prepare the data again with this tokenizer");
  // Prepared lengths beyond the model's positions are cut at every batch: say so once, loudly, with the counts.
  for (const auto& [what, lengths, limit] :
       {std::tuple<const char*, const uint32_t*, int64_t>{"source", train->source_lengths(), config.model.max_source_positions},
        {"target", train->target_lengths(), config.model.max_target_positions}}) {
    size_t longer = 0;
    for (size_t i = 0; i < train->size(); ++i) longer += lengths[i] > limit;
    if (longer > 0)
      spdlog::warn("{}: {} of {} training {}s are longer than model.max_{}_positions ({}); they are cut to {} tokens "
                   "ending in EOS (raise model.max_{}_positions or prepare with a shorter --max-{}-length)",
                   train->path(), longer, train->size(), what, what, limit, limit, what, what);
  }
  if (train->vocab_size() != tokenizer.vocab_size())
    throw CommandError(train->path() + ": prepared with a vocabulary of " + std::to_string(train->vocab_size()) +
                       " but " + tokenizer_path + " has " + std::to_string(tokenizer.vocab_size()));

  const fs::path last = save_dir / "checkpoint_last.pt";
  if (!o.resume && fs::exists(last))
    throw CommandError(last.string() + " exists: pass --resume to continue that run, or choose another --save-dir");
  std::unique_ptr<DirectoryLock> lock;
  if (writer) {  // only rank 0 writes into the save dir
    try {
      lock = std::make_unique<DirectoryLock>(save_dir.string());
    } catch (const std::exception& e) {
      throw CommandError(e.what());
    }
    if (const int stale = remove_stale_temporary_files(save_dir.string()))
      spdlog::info("{}: removed {} temporary files left by an interrupted save", save_dir.string(), stale);
    fs::create_directories(save_dir);
    const std::string resolved = config.to_yaml_string();
    spdlog::info("config ({}):\n{}", config.origin, resolved);
    write_file_atomically((save_dir / "config.yaml").string(), resolved);
  }

  TrainerOptions trainer_options;
  trainer_options.save_dir = save_dir.string();
  trainer_options.progress = !o.no_progress;
  std::unique_ptr<DistributedContext> context;
  if (distributed) {
    // One GPU per local rank: "auto"/"cuda" become cuda:LOCAL_RANK.
    const std::string& device = config.training.device;
    const int64_t local_rank = distributed->local_rank >= 0 ? distributed->local_rank : distributed->rank;
    if ((device == "auto" || device == "cuda") && parse_device(device).is_cuda())
      config.training.device = "cuda:" + std::to_string(local_rank);
    // A WORLD_SIZE left in the environment turns a plain `train` into a rank: say so before waiting for the others.
    spdlog::info("distributed: rank {} of {} ({}): rendezvous at {}:{}, waiting up to {} s (--dist-timeout) for the "
                 "others", distributed->rank, distributed->world_size,
                 o.world_size > 0 ? "--world-size" : "WORLD_SIZE from the environment", distributed->master_addr,
                 distributed->master_port, distributed->timeout_seconds);
    try {
      context = std::make_unique<DistributedContext>(*distributed, parse_device(config.training.device));
    } catch (const std::exception& e) {
      throw CommandError(e.what());
    }
    spdlog::info("distributed: {} | world size {} | timeout {} s", context->describe(), context->world_size(),
                 distributed->timeout_seconds);
    trainer_options.rank = context->rank();
    trainer_options.world_size = context->world_size();
    trainer_options.reducer = context->reducer();
  }
  std::unique_ptr<Trainer> trainer;
  try {
    trainer = std::make_unique<Trainer>(config.model, config.training, train, valid, tokenizer_bytes, trainer_options);
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what());
  }
  spdlog::info("model: {} parameters | train: {} examples | valid: {} examples | device {}{}",
               trainer->model()->parameter_count(), train->size(), valid->size(), trainer->device().str(),
               config.training.amp != AmpMode::none && trainer->device().is_cuda() ? " | amp " + name_of(config.training.amp) : "");
  const bool resuming = o.resume && fs::exists(last);
  if (!o.init_from.empty() && resuming) {
    spdlog::info("--init-from {}: ignored, {} exists and --resume continues it", o.init_from, last.string());
  } else if (!o.init_from.empty()) {
    try {
      trainer->init_from(o.init_from, o.init);
    } catch (const std::exception& e) {
      throw CommandError(e.what());
    }
  }
  if (o.resume) {
    if (fs::exists(last)) {
      try {
        trainer->load_checkpoint(last.string());
      } catch (const std::exception& e) {
        throw CommandError(e.what());
      }
    } else {
      spdlog::warn("--resume: no {} yet, starting from scratch", last.string());
    }
  }
  if (context) check_same_resume_point(*context->reducer(), trainer->update(), o.resume && fs::exists(last), last.string());

  StopSignalHandler signals;
  const TrainingSummary summary = trainer->run();
  spdlog::info("stopped ({}) at update {}, epoch {}: {} updates in {} ({:.2f} upd/s, {:.0f} tok/s){}", summary.stop_reason,
               summary.update, summary.epoch, summary.updates, format_duration(summary.seconds),
               summary.updates_per_second, summary.tokens_per_second,
               trainer->state().has_best ? fmt::format(", best {} {:.4f} at update {}",
                                                       name_of(config.training.best_checkpoint_metric),
                                                       trainer->state().best_metric, trainer->state().best_update)
                                         : std::string());
  if (summary.stop_reason == "nonfinite")
    throw CommandError(summary.divergence.empty()
                           ? fmt::format("training diverged: {} consecutive updates had a NaN/Inf loss or gradient",
                                         trainer->state().nonfinite_in_a_row)
                           : fmt::format("training diverged: {}; {} keeps the last good update (lower lr, raise "
                                         "warmup_updates, or check the data)", summary.divergence, last.string()),
                       3);
  if (summary.stop_reason == "signal") {
    const int code = 128 + summary.signal;
    throw CommandError(fmt::format("interrupted by {}: {} holds update {}; continue with --resume (exit code {})",
                                   signal_name(summary.signal), last.string(), summary.update, code), code);
  }
}

}  // namespace

PYRAMIDION_COMMAND("train", [](CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand("train", "train a summarization model (docs/training.md)");
  auto* config = cmd->add_option("-c,--config", options->config, "YAML file with model: and training: sections");
  auto* preset = cmd->add_option("--preset", options->preset, "a named config from configs/ instead of --config");
  config->excludes(preset);
  cmd->add_option("--set", options->overrides,
                  "override, repeatable: d_model=64, pooling={0: 256}, training.lr=1e-3, lr=1e-3")
      ->take_all();
  cmd->add_option("--data", options->data_dir, "directory from `pyramidion data prepare` (train.bin, valid.bin, spm.model)")
      ->required();
  cmd->add_option("--save-dir", options->save_dir, "checkpoints, metrics.jsonl and config.yaml go here")->required();
  cmd->add_flag("--resume", options->resume, "continue from SAVE_DIR/checkpoint_last.pt (from scratch when absent)");
  cmd->add_option("--init-from", options->init_from,
                  "start from this model file or checkpoint's weights (a new run: fresh data order and counters)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--reset-optimizer", options->init.reset_optimizer,
                "with --init-from CHECKPOINT: fresh optimizer moments instead of the checkpoint's");
  cmd->add_flag("--reset-lr-scheduler", options->init.reset_lr_scheduler,
                "with --init-from: count updates (schedule, max_updates) from 0 instead of the file's count");
  cmd->add_flag("--no-progress", options->no_progress, "no progress bar on a terminal (log lines only)");
  const std::string group = "Multi-process training (also RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)";
  cmd->add_option("--nproc-per-node", options->nproc_per_node, "start this many worker processes here (1 per GPU)")
      ->check(CLI::Range(1, 1024))->group(group);
  cmd->add_option("--nnodes", options->nnodes, "with --nproc-per-node: machines in the run")->check(CLI::Range(1, 65536))->group(group);
  cmd->add_option("--node-rank", options->node_rank, "with --nproc-per-node: this machine's index (0 = the master)")
      ->check(CLI::Range(0, 65535))->group(group);
  cmd->add_option("--dist-url", options->dist_url, "tcp://HOST:PORT of rank 0's rendezvous (instead of MASTER_ADDR/PORT)")->group(group);
  cmd->add_option("--rank", options->rank, "this process's rank (instead of RANK)")->check(CLI::Range(0, 1 << 20))->group(group);
  cmd->add_option("--world-size", options->world_size, "processes in the run (instead of WORLD_SIZE)")
      ->check(CLI::Range(1, 1 << 20))->group(group);
  cmd->add_option("--dist-backend", options->dist_backend, "auto (nccl on CUDA, else gloo), gloo, nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))->group(group);
  cmd->add_option("--dist-timeout", options->dist_timeout,
                  "seconds a rank waits for the others (rendezvous, each all-reduce) before failing")
      ->check(CLI::PositiveNumber)->group(group);
  cmd->add_option("--bucket-mb", options->bucket_mb, "gradient all-reduce bucket size in MiB")->check(CLI::Range(0.001, 4096.0))->group(group);
  cmd->callback([options] {
    if (options->config.empty() == options->preset.empty()) throw CommandError("give either -c CONFIG.yaml or --preset NAME");
    if (options->init_from.empty() && (options->init.reset_optimizer || options->init.reset_lr_scheduler))
      throw CommandError("--reset-optimizer / --reset-lr-scheduler need --init-from");
    if (!options->init_from.empty() && options->init_from == (fs::path(options->save_dir) / "checkpoint_last.pt").string())
      throw CommandError("--init-from " + options->init_from + ": that is this run's own checkpoint; use --resume");
    if (options->nproc_per_node > 0) {
      WorkerLaunch launch;
      launch.nproc_per_node = options->nproc_per_node;
      launch.nnodes = options->nnodes;
      launch.node_rank = options->node_rank;
      if (!options->dist_url.empty()) {
        DistributedOptions url;
        try {
          url.set_url(options->dist_url);
        } catch (const std::invalid_argument& e) {
          throw CommandError(e.what());
        }
        launch.master_addr = url.master_addr;
        launch.master_port = static_cast<int>(url.master_port);
      }
      if (options->rank >= 0 || options->world_size > 0)
        throw CommandError("--nproc-per-node sets each worker's rank and world size: drop --rank/--world-size");
      launch.arguments = own_arguments_without({"--nproc-per-node", "--nnodes", "--node-rank", "--dist-url"});
      launch_workers(launch);
      return;
    }
    run(*options);
  });
});

}  // namespace pyramidion::cli

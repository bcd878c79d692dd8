// `pyramidion train`: trains a model on a directory from `pyramidion data prepare`, with checkpoints in --save-dir
// that `summarize -m` reads directly and `--resume` continues exactly.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <optional>

#include "command.h"
#include "pyramidion/training/distributed_context.h"
#include "pyramidion/training/stop_signal.h"
#include "pyramidion/training/training_run.h"
#include "pyramidion/util/progress.h"
#include "worker_launcher.h"

namespace pyramidion::cli {
namespace {
namespace fs = std::filesystem;

struct TrainOptions {
  TrainingRunOptions job;  // the library's options, parsed into directly
  bool no_progress = false;
  // Several processes (docs/training.md): a launcher, or one worker of a run.
  int nproc_per_node = 0;  // > 0: start this many local workers
  int nnodes = 1, node_rank = 0;
  std::string dist_url;  // tcp://HOST:PORT; "" = MASTER_ADDR/MASTER_PORT
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

// The job itself is the library's (training/training_run.h); here only its outcome becomes the exit status.
void run(const TrainOptions& o) {
  TrainingRunOptions options = o.job;
  options.progress = !o.no_progress;
  options.distributed = distributed_options(o);
  if (options.distributed && options.distributed->rank != 0)  // rank 0 logs for the run
    spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));
  TrainingRunResult result;
  try {
    result = run_training(options);
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  const TrainingSummary& summary = result.summary;
  const TrainingState& state = result.state;
  spdlog::info("stopped ({}) at update {}, epoch {}: {} updates in {} ({:.2f} upd/s, {:.0f} tok/s){}",
               name_of(summary.reason), summary.update, summary.epoch, summary.updates,
               format_duration(summary.seconds), summary.updates_per_second, summary.tokens_per_second,
               state.has_best ? fmt::format(", best {} {:.4f} at update {}", result.best_metric, state.best_metric,
                                            state.best_update)
                              : std::string());
  if (summary.reason == StopReason::nonfinite)
    throw CommandError(summary.divergence.empty()
                           ? fmt::format("training diverged: {} consecutive updates had a NaN/Inf loss or gradient",
                                         state.nonfinite_in_a_row)
                           : fmt::format("training diverged: {}; {} keeps the last good update (lower lr, raise "
                                         "warmup_updates, or check the data)",
                                         summary.divergence, result.last_checkpoint),
                       3);
  if (summary.reason == StopReason::signal) {
    const int code = 128 + summary.signal;
    throw CommandError(fmt::format("interrupted by {}: {} holds update {}; continue with --resume (exit code {})",
                                   signal_name(summary.signal), result.last_checkpoint, summary.update, code),
                       code);
  }
}

}  // namespace

PYRAMIDION_COMMAND("train", [](CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand("train", "train a summarization model (docs/training.md)");
  auto* config = cmd->add_option("-c,--config", options->job.config, "YAML file with model: and training: sections");
  auto* preset = cmd->add_option("--preset", options->job.preset, "a named config from configs/ instead of --config");
  config->excludes(preset);
  cmd->add_option("--set", options->job.overrides,
                  "override, repeatable: d_model=64, pooling={0: 256}, training.lr=1e-3, lr=1e-3")
      ->take_all();
  cmd->add_option("--data", options->job.data_dir,
                  "directory from `pyramidion data prepare` (train.bin, valid.bin, meta.json, the tokenizer)")
      ->required();
  cmd->add_option("--save-dir", options->job.save_dir, "checkpoints, metrics.jsonl and config.yaml go here")
      ->required();
  cmd->add_flag("--resume", options->job.resume,
                "continue from SAVE_DIR/checkpoint_last.pt (from scratch when absent)");
  cmd->add_option("--init-from", options->job.init_from,
                  "start from this model file or checkpoint's weights (a new run: fresh data order and counters)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--reset-optimizer", options->job.init.reset_optimizer,
                "with --init-from CHECKPOINT: fresh optimizer moments instead of the checkpoint's");
  cmd->add_flag("--reset-lr-scheduler", options->job.init.reset_lr_scheduler,
                "with --init-from: count updates (schedule, max_updates) from 0 instead of the file's count");
  cmd->add_flag("--no-progress", options->no_progress, "no progress bar on a terminal (log lines only)");
  const std::string group = "Multi-process training (also RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)";
  cmd->add_option("--nproc-per-node", options->nproc_per_node, "start this many worker processes here (1 per GPU)")
      ->check(CLI::Range(1, 1024))
      ->group(group);
  cmd->add_option("--nnodes", options->nnodes, "with --nproc-per-node: machines in the run")
      ->check(CLI::Range(1, 65536))
      ->group(group);
  cmd->add_option("--node-rank", options->node_rank, "with --nproc-per-node: this machine's index (0 = the master)")
      ->check(CLI::Range(0, 65535))
      ->group(group);
  cmd->add_option("--dist-url", options->dist_url,
                  "tcp://HOST:PORT of rank 0's rendezvous (instead of MASTER_ADDR/PORT)")
      ->group(group);
  cmd->add_option("--rank", options->rank, "this process's rank (instead of RANK)")
      ->check(CLI::Range(0, 1 << 20))
      ->group(group);
  cmd->add_option("--world-size", options->world_size, "processes in the run (instead of WORLD_SIZE)")
      ->check(CLI::Range(1, 1 << 20))
      ->group(group);
  cmd->add_option("--dist-backend", options->dist_backend, "auto (nccl on CUDA, else gloo), gloo, nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->group(group);
  cmd->add_option("--dist-timeout", options->dist_timeout,
                  "seconds a rank waits for the others (rendezvous, each all-reduce) before failing")
      ->check(CLI::PositiveNumber)
      ->group(group);
  cmd->add_option("--bucket-mb", options->bucket_mb, "gradient all-reduce bucket size in MiB")
      ->check(CLI::Range(0.001, 4096.0))
      ->group(group);
  cmd->callback([options] {
    try {
      check_config_source(options->job.config, options->job.preset);  // before any worker starts
    } catch (const std::invalid_argument& e) {
      throw CommandError(e.what());
    }
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

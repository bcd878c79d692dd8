#pragma once
// The library's one entry point for training (the counterpart of Summarizer; Marian's Train<>(options)->run()):
// a prepared data directory and a config in, a trained run in the save directory out. `pyramidion train` parses its
// options and calls run_training(); a Python binding or another front end starts a run the same way, with the same
// checks.
//
//   pyramidion::TrainingRunOptions options;
//   options.preset = "tiny-pyramidion";
//   options.data_dir = "prepared";   // from `pyramidion data prepare`
//   options.save_dir = "run";
//   const auto result = pyramidion::run_training(options);
//   if (result.summary.reason == pyramidion::StopReason::nonfinite) ...
//
// A program that makes its data itself and drives the loop on its own criteria (the demo) starts the same job on
// open datasets with start_training(): the same checks, then the trainer.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/training/distributed_context.h"
#include "pyramidion/training/trainer.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {

struct TrainingRunOptions {
  std::string config;                  // YAML file with model: and training: sections, or
  std::string preset;                  // a named config (configs/); exactly one of the two
  std::vector<std::string> overrides;  // "d_model=64", "training.lr=1e-3", ... (--set)
  std::string data_dir;                // from `data prepare`: train.bin, valid.bin, spm.model, meta.json
  std::string save_dir;                // checkpoints, metrics.jsonl, config.yaml
  bool resume = false;                 // continue save_dir/checkpoint_last.pt (from scratch when there is none)
  std::string init_from;               // a new run from this file's weights (ignored when resuming an existing run)
  InitFromOptions init;
  bool progress = true;  // a progress bar on a terminal
  // One process of a multi-process run (rank, world size, rendezvous); nullopt = one process.
  std::optional<DistributedOptions> distributed;
};

struct TrainingRunResult {
  TrainingSummary summary;      // reason: why it stopped (StopReason::signal: summary.signal)
  std::string last_checkpoint;  // save_dir/checkpoint_last.pt (holds the last good update)
  TrainingState state;          // counters at the end: update, best metric and its update, non-finite streak
  std::string best_metric;      // training.best_checkpoint_metric's name
};

// Opens the data directory (both splits verified, the tokenizer's checksum and vocabulary against theirs, the special
// ids from the tokenizer, the source framing from meta.json), resolves the config, locks the save directory (rank 0),
// removes temporary files an interrupted save left, writes config.yaml, resolves the device per rank, joins the other
// processes, applies --resume then --init-from by one rule (resuming an existing run wins), makes the ranks agree on
// the resume point, and trains until the config's limits, a stop signal or divergence. Throws std::invalid_argument
// (a bad option or config) or std::runtime_error (a file, the data, the rendezvous) with one line naming the file or
// key; a run that stops (signal, divergence) returns normally with the reason.
TrainingRunResult run_training(const TrainingRunOptions& options);

// A training job on data already open: what run_training() makes of a data directory, or what a program that
// generates its data passes itself.
struct TrainingJob {
  RunConfig config;  // resolved (resolve_run_config); check_training_job() fits it to the tokenizer
  std::shared_ptr<data::BinaryDataset> train, valid;  // valid may be null (no validation)
  std::string tokenizer_bytes;                        // the tokenizer the data was encoded with (spm.model's bytes)
  std::string tokenizer_origin = "the tokenizer";     // names it in errors
  TrainerOptions trainer;                             // save_dir, progress, the process's rank and reducer
};

// What ties a config to its data, checked for every run: the tokenizer has the pieces training needs and its special
// ids go into the model config; both splits were prepared with it (vocabulary, checksum); a warm-up longer than the
// run and lengths the model's positions cut are reported. Throws std::invalid_argument / std::runtime_error.
void check_training_job(TrainingJob& job);

// check_training_job(), then the trainer (training/trainer.h) for a program that drives it (run_for, curriculum stages
// on its own criteria). run_training() does the same between its save directory, processes and starting point.
std::unique_ptr<Trainer> start_training(TrainingJob job);

}  // namespace pyramidion

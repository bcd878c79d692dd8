#pragma once
// Training checkpoints. A checkpoint is two files written atomically:
//   NAME.pt              a model file (models/model_file.h): config, tokenizer, weights, and in its metadata
//                        {"kind": "checkpoint", "training_state": {...}, "state_file": "NAME.pt.state-u<update>"}
//                        -- `pyramidion summarize -m NAME.pt` uses it directly;
//   NAME.pt.state-u<U>   a torch archive: optimizer state, RNG states (CPU, CUDA) and the training state JSON.
// The state file is written first under a name unique to the update, then the model file that names it
// replaces the old one, then older state files of NAME are removed: a crash at any point leaves a consistent
// pair (the previous or the new one).
#include <torch/optim/optimizer.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "pyramidion/models/summarization_model.h"

namespace pyramidion {

// Where training stands; everything a resumed run needs besides weights, optimizer and RNG states.
struct TrainingState {
  int64_t update = 0;           // completed (applied) updates
  int64_t epoch = 1;            // current epoch, 1-based
  int64_t batch_in_epoch = 0;   // batches of this epoch's order already consumed
  int64_t skipped_updates = 0;  // updates skipped for NaN/Inf, in total
  int64_t nonfinite_in_a_row = 0;
  bool has_best = false;
  double best_metric = 0.0;  // value of the best_checkpoint_metric so far
  int64_t best_update = 0;
  int64_t last_validated_update = -1;
  double loss_scale = 128.0;  // fp16 dynamic loss scaling
  int64_t loss_scale_clean_updates = 0;
  double training_seconds = 0.0;                // wall-clock time spent training, across resumed runs
  int64_t train_examples = 0;                   // size of the training set the batch order was made for
  int64_t curriculum_stage = 0;                 // 0-based stage of training/curriculum.h (0 without a curriculum)
  int64_t validations_without_improvement = 0;  // in a row, for training.patience
  // The kept checkpoint_best_u<update>.pt files (training.keep_best_checkpoints), best first.
  struct RankedCheckpoint {
    int64_t update = 0;
    double metric = 0.0;
  };
  std::vector<RankedCheckpoint> best_checkpoints;
  int64_t world_size = 1;  // processes of the run (batch_in_epoch counts batches of one rank's shard)
  // The log interval in progress (so a resumed run logs the same averages as an uninterrupted one).
  int64_t interval_updates = 0;
  double interval_loss_sum = 0.0, interval_nll_sum = 0.0, interval_grad_norm_sum = 0.0;
  int64_t interval_target_tokens = 0, interval_source_tokens = 0;

  // A validation's metric `value` (not finite: never a new best) into the best metric, the patience count and the
  // last validated update; true when it is a new best.
  bool record_validation(int64_t validated_update, double value, bool maximize);

  nlohmann::json to_json() const;
  // Throws std::runtime_error on missing fields; fields added later default when absent: curriculum_stage,
  // validations_without_improvement 0, best_checkpoints empty, world_size 1.
  static TrainingState from_json(const nlohmann::json& json);
};

struct CheckpointContents {
  TrainingState state;
  nlohmann::json metadata;      // the model file's metadata
  std::string tokenizer_bytes;  // the embedded tokenizer (its checksum is metadata["tokenizer_checksum"])
};

// Writes NAME.pt (+ its state file unless optimizer is null: then a plain model file with the training state in
// its metadata, e.g. checkpoint_best.pt). `extra_metadata` entries are added to the model file's metadata.
void save_checkpoint(const std::string& path, SummarizationModel& model, const std::string& tokenizer_bytes,
                     const TrainingState& state, torch::optim::Optimizer* optimizer,
                     const nlohmann::json& extra_metadata = nlohmann::json::object());

// Loads weights into `model` (same architecture), optimizer state and RNG states (when optimizer is not null;
// the state file must then exist). Throws std::runtime_error naming the file.
CheckpointContents load_checkpoint(const std::string& path, SummarizationModel& model,
                                   torch::optim::Optimizer* optimizer);

// A resumed run's tokenizer must be the checkpoint's (the same vocabulary size is not enough: other pieces under the
// same ids would train on nonsense). Throws std::runtime_error naming both checksums; empty bytes are not compared.
void check_checkpoint_tokenizer(const std::string& path, const std::string& checkpoint_tokenizer_bytes,
                                const std::string& run_tokenizer_bytes);

// What `init_from` takes over besides the weights (fairseq's --restore-file and its --reset-* flags).
struct InitFromOptions {
  bool reset_optimizer = false;     // fresh AdamW moments even when the file is a resumable checkpoint
  bool reset_lr_scheduler = false;  // count updates (the schedule, max_updates) from 0 even when the file has a count
};

struct InitFromResult {
  int64_t update = 0;            // the update count the new run starts from (0 unless the file has one to continue)
  bool same_config = true;       // the file's model config equals the model's
  bool optimizer_state = false;  // its optimizer state was loaded into `optimizer`
};

// Another run's weights into `model`: a model file (`pyramidion export`, checkpoint_best.pt, an average) or a resumable
// checkpoint, which also gives its optimizer state (same model config only) and, with it, its update count unless
// reset. Names and shapes must fit; the tokenizer must be the same bytes (unless `tokenizer_bytes` is empty).
InitFromResult load_init_from(const std::string& path, SummarizationModel& model, torch::optim::Optimizer& optimizer,
                              const std::string& tokenizer_bytes, const InitFromOptions& options);

// Removes NAME.pt and its state files (ignores missing ones).
void remove_checkpoint(const std::string& path);

// Removes a resumable checkpoint crash-safely: NAME.pt is first renamed to NAME.pt.evicting (one atomic step,
// made durable), then its state files and that file go. A kill at any point leaves either the whole checkpoint
// or a NAME.pt.evicting that finish_interrupted_evictions() removes on the next start; never a NAME.pt whose
// state file is gone.
void evict_checkpoint(const std::string& path);
// Completes the evictions a kill interrupted in `dir`; returns the checkpoints (NAME.pt) it finished.
std::vector<std::string> finish_interrupted_evictions(const std::string& dir);

}  // namespace pyramidion

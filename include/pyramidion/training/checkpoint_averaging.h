#pragma once
// Checkpoint averaging (fairseq's scripts/average_checkpoints.py): the element-wise mean of the weights of
// several model files of one architecture and tokenizer, written as a new model file. Averaging the last few
// periodic checkpoints or the N best validations usually gains a little ROUGE over any single one of them.
#include <cstdint>
#include <string>
#include <vector>

namespace pyramidion {

struct AverageCheckpointsResult {
  std::vector<std::string> inputs;
  int64_t tensors = 0;   // parameters and buffers averaged
  int64_t elements = 0;  // their element count
};

// Averages `inputs` (model files or checkpoints; at least one) in float64 and rounds to each tensor's dtype;
// non-floating buffers must be equal in every file. Every input must have the same model config and tokenizer
// (else std::invalid_argument naming the file). Writes `output` atomically (a model file with metadata
// {"kind": "average", "averaged": [inputs], "updates": [each input's update when it has one]}).
AverageCheckpointsResult average_checkpoints(const std::vector<std::string>& inputs, const std::string& output);

// The newest `count` periodic checkpoints checkpoint_<update>.pt of a run directory, oldest first.
// Throws std::invalid_argument when the directory has fewer.
std::vector<std::string> last_periodic_checkpoints(const std::string& run_dir, int64_t count);

// Whether `picked` (from last_periodic_checkpoints, oldest first) are the run's last consecutive saves: "" when
// they are, else a one-line reason naming the files, for example a checkpoint missing between them (updates not
// save_interval_updates apart, as their training config records it) or checkpoint_last.pt at an update past the
// newest picked one plus that interval (the newest saves are gone).
std::string periodic_gap_warning(const std::string& run_dir, const std::vector<std::string>& picked);

// The `count` best checkpoint_best_u<update>.pt files of a run directory (training.keep_best_checkpoints), best
// first, as ranked in the run's checkpoint_last.pt. Throws std::invalid_argument when fewer are kept.
std::vector<std::string> best_ranked_checkpoints(const std::string& run_dir, int64_t count);

}  // namespace pyramidion

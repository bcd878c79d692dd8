#pragma once
// Data-parallel ranks must run the same model and training config on the same data: a rank with another model
// size would abort the others inside the first collective, one with another seed or learning rate would train
// silently apart. Before the first collective that depends on them, every rank compares fingerprints (64-bit
// hashes) of what must agree, through GradientReducer::sum_scalars, and every rank refuses with the same one-line
// error naming what differs.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/training/gradient_reducer.h"
#include "pyramidion/training/training_config.h"

namespace pyramidion {

// (what, hash): "model.d_model", "training.lr", "parameter shapes", ... in the same order on every rank.
using Fingerprints = std::vector<std::pair<std::string, uint64_t>>;

uint64_t fingerprint_of(const std::string& bytes);  // FNV-1a-64

// Throws std::runtime_error on every rank when any fingerprint differs between ranks: "rank R of N: the ranks
// disagree on training.lr, model.d_model (this rank differs from rank 0 | agrees with rank 0, another differs): ...".
// A no-op on one process.
void check_ranks_agree(GradientReducer& reducer, const Fingerprints& fingerprints);

// What every rank of a data-parallel run must share: each model and training key (but the per-rank
// training.device and training.threads), the parameters' names, shapes and dtypes, the tokenizer and the data sizes.
Fingerprints training_fingerprints(const SummarizationModel& model, const TrainingConfig& training,
                                   const std::string& tokenizer_bytes, const data::BinaryDataset& train,
                                   const data::BinaryDataset* valid);

}  // namespace pyramidion

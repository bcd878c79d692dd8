#pragma once
// fairseq transformer / BART checkpoints (`pyramidion import --from fairseq CHECKPOINT`): torch.save'd
// {"args": argparse.Namespace, "model": state dict, ...} as fairseq < 0.10 writes them (and the released
// bart.base / bart.large model.pt). The weights use the Hugging Face module names without "model." (see
// models/hf_import.h) plus decoder.output_projection (-> lm_head) and version buffers; the dictionary's
// pad/bos/eos are 1/0/2 and decoding starts from eos.
#include <nlohmann/json.hpp>

#include <string>

#include "pyramidion/models/hf_import.h"

namespace pyramidion {

// fairseq args (read_torch_save_values(path, "args")) + the embedding's vocabulary size -> ModelConfig. Throws
// std::runtime_error "<origin>: args.<key>: ..." for an unsupported architecture or setting (different encoder
// and decoder widths or head counts, gelu_accurate, adaptive softmax, no positions...).
ModelConfig fairseq_model_config(const nlohmann::json& args, int64_t vocab_size, const std::string& origin);

// Checkpoints with only an omegaconf "cfg" (fairseq >= 0.10 training runs) are refused with a one-line error.
ImportedModel import_fairseq_checkpoint(const std::string& path);

}  // namespace pyramidion

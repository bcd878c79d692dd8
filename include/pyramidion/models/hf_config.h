#pragma once
// Hugging Face config.json <-> ModelConfig for the architectures the importer knows (models/hf_import.h):
//   bart     BartForConditionalGeneration (bart-base, bart-large, fine-tunes): post-norm, learned positions
//            (offset 2), layernorm_embedding, final_logits_bias, decoder start = eos.
//   pegasus  PegasusForConditionalGeneration (pegasus-large, arxiv/pubmed fine-tunes): pre-norm with final layer
//            norms, PEGASUS sinusoidal positions, final_logits_bias, decoder start = pad.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pyramidion/models/model_config.h"

namespace pyramidion {

std::vector<std::string> hf_architectures();  // {"bart", "pegasus"}

// config.json -> ModelConfig. Throws std::runtime_error "<origin>: <key>: ..." (one line) for an unknown
// model_type, a missing or mistyped key, or a setting this build cannot represent (e.g. different encoder and
// decoder head counts, activation gelu_new, add_bias_logits).
ModelConfig hf_model_config(const nlohmann::json& config, const std::string& origin);
// config.json's model_type for `config`; throws std::runtime_error when no known architecture has these settings
// (pooling, blockwise attention, copy attention, fairseq sinusoidal positions...).
std::string hf_architecture_of(const ModelConfig& config);
// ModelConfig -> config.json (model_type from hf_architecture_of); hf_model_config of it gives `config` back.
nlohmann::json hf_config_json(const ModelConfig& config);

}  // namespace pyramidion

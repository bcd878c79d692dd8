#pragma once
// Hugging Face BART / PEGASUS checkpoints <-> SummarizationModel (`pyramidion import --from hf`,
// `pyramidion export --to hf`). Weight names (HF -> pyramidion; a "model." prefix is optional, as BartModel
// checkpoints omit it):
//   model.shared.weight                          embed_tokens.weight (also model.{encoder,decoder}.embed_tokens)
//   lm_head.weight                               output_projection.weight when tie_word_embeddings is false
//   final_logits_bias (1, vocab)                 output_bias (vocab)
//   model.{encoder,decoder}.embed_positions      {encoder,decoder}_positions (BART; PEGASUS's are computed)
//   model.{encoder,decoder}.layernorm_embedding  {encoder,decoder}_embedding_norm (BART)
//   model.{encoder,decoder}.layer_norm           {encoder,decoder}_final_norm (PEGASUS)
//   model.encoder.layers.i.self_attn.*           encoder_layers.i.self_attn.attention.*
//   model.decoder.layers.i.self_attn.*           decoder_layers.i.self_attn.*
//   model.decoder.layers.i.encoder_attn.*        decoder_layers.i.cross_attn.*
//   *.self_attn_layer_norm / encoder_attn_layer_norm / final_layer_norm   *.self_attn_norm / cross_attn_norm / ffn_norm
//   *.fc1, *.fc2                                 *.ffn.fc1, *.ffn.fc2
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pyramidion/models/model_config.h"
#include "pyramidion/models/summarization_model.h"
#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {

// The Hugging Face name of a pyramidion parameter (without the "model." prefix's optionality: the full
// BartForConditionalGeneration / PegasusForConditionalGeneration name). Throws std::logic_error for a parameter
// with no Hugging Face counterpart (poolers, copy gate).
std::string hf_weight_name(const std::string& name);

struct ImportedModel {
  std::string architecture;           // bart | pegasus
  SummarizationModel model{nullptr};  // eval mode, CPU, float32
  // pegasus_sentencepiece | sentencepiece | byte_level_bpe | "" (no tokenizer files found)
  std::string tokenizer_kind;
  // pegasus_sentencepiece: data::PegasusTokenizer::serialized() over spiece.model (PEGASUS, when spiece.model's pieces
  // + offset (tokenizer_config.json's, else 103) make config.json's vocab_size); sentencepiece: the spiece.model bytes
  // (as many pieces as vocab_size); byte_level_bpe: ByteLevelBpeTokenizer::serialized() (from tokenizer.json, else
  // vocab.json + merges.txt); "" without tokenizer files. Each loads with data::Tokenizer::from_bytes.
  std::string tokenizer_bytes;
  nlohmann::json metadata;  // {"imported_from": {...}} for the model file
};

// Builds the model of `config` from HF-named `tensors` (any float dtype; converted to float32).
// `origin` names the weights file in errors, which are one line each: a missing key, an unexpected key, a shape
// that does not match config.json, tied copies (embed_tokens, lm_head) that differ from model.shared.weight.
SummarizationModel model_from_hf_tensors(const ModelConfig& config, const NamedTensors& tensors,
                                         const std::string& origin);

// A checkpoint folder: config.json + model.safetensors or pytorch_model.bin (+ tokenizer files).
ImportedModel import_hf_checkpoint(const std::string& dir);

// The HF-named tensors of `model` (the tied copies and PEGASUS's computed positions included, as save_pretrained
// writes them before it drops shared storage: here only model.shared.weight is kept for tied embeddings).
NamedTensors hf_tensors_of(SummarizationModelImpl& model);

// DIR/config.json + DIR/model.safetensors (+ DIR/spiece.model when `sentencepiece_bytes` is a SentencePiece model or
// a serialized PEGASUS tokenizer (its spiece.model bytes unchanged), DIR/vocab.json + DIR/merges.txt when it is a
// serialized byte-level BPE tokenizer).
// Throws std::runtime_error when the model has no BART or PEGASUS form (hf_architecture_of).
void export_hf_checkpoint(SummarizationModelImpl& model, const std::string& dir,
                          const std::string& sentencepiece_bytes);

}  // namespace pyramidion

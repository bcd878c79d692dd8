#pragma once
// Every hyper-parameter of a summarization model; read from the `model:` section of a YAML file.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pyramidion/nn/layer_options.h"
#include "pyramidion/ops/successive_halving_topk.h"

namespace pyramidion {

// The `model.pooling:` section. YAML: `pooling: {type: topk, schedule: {0: 1024, 1: 512}, base: 20, ...}`.
// Legacy files write the schedule as the whole section (`pooling: {0: 1024}`) and the other settings as flat keys
// (pooling_base, pooling_flip_right, pooling_sort_back, pooling_hard_at_inference); both are still read.
struct PoolingConfig {
  std::string type = "topk";            // a registered pooler type (make_pooler); topk = successive-halving top-k
  std::map<int64_t, int64_t> schedule;  // encoder layer index -> width kept after that layer
  double base = 20.0;                   // successive-halving softmax base
  bool flip_right = true;               // pair the i-th best with the i-th worst
  bool sort_back = kDefaultSortBack;    // keep pooled representations in document order
  bool hard_at_inference = false;       // exact top-k in eval mode (the paper keeps the soft operator)

  bool operator==(const PoolingConfig& o) const {
    return type == o.type && schedule == o.schedule && base == o.base && flip_right == o.flip_right &&
           sort_back == o.sort_back && hard_at_inference == o.hard_at_inference;
  }
  bool operator!=(const PoolingConfig& o) const { return !(*this == o); }
};

// How token positions are embedded (`model.position_embeddings`).
enum class PositionEmbeddings {
  sinusoidal,  // fairseq's: [sin, cos] with f_i = 10000^(-i / (dim/2 - 1)), the j-th token at pad_id + 1 + j
  learned,     // fairseq / Hugging Face BART: a trained table, the j-th token at row j + 2 (kLearnedPositionOffset)
  pegasus_sinusoidal,  // Hugging Face PEGASUS: [sin, cos] with f_i = 10000^(-2i / dim), the j-th token at position j
};
constexpr int64_t kLearnedPositionOffset = 2;  // fairseq (padding_idx 1 + 1) and Hugging Face BART

struct ModelConfig {
  // Vocabulary and special tokens (vocab_size is set from the tokenizer).
  int64_t vocab_size = 32000;
  int64_t pad_id = 0;
  int64_t bos_id = 2;
  int64_t eos_id = 3;

  // Transformer shape.
  int64_t d_model = 512;
  int64_t attention_heads = 8;
  int64_t ffn_dim = 2048;
  int64_t encoder_layers = 6;
  int64_t decoder_layers = 6;
  double dropout = 0.1;
  double attention_dropout = 0.1;
  double activation_dropout = 0.0;
  Activation activation = Activation::relu;
  bool normalize_before = false;      // pre-norm (adds a final layer norm to encoder and decoder)
  bool scale_embedding = true;        // token embeddings * sqrt(d_model)
  bool tie_output_projection = true;  // output projection = token embedding matrix
  // Imported architectures (models/hf_import.h); the defaults are the native model's.
  int64_t decoder_ffn_dim = 0;  // the decoder's feed-forward size; 0 = ffn_dim
  PositionEmbeddings position_embeddings = PositionEmbeddings::sinusoidal;
  bool layernorm_embedding = false;  // a layer norm on embeddings + positions (BART's layernorm_embedding)
  bool output_bias = false;          // a bias (vocab) on the output logits (Hugging Face's final_logits_bias)
  int64_t decoder_start_id = -1;     // the first decoder input; -1 = bos_id (BART: eos 2, PEGASUS: pad 0)
  AttentionBackend attention_backend = AttentionBackend::automatic;

  // Lengths.
  int64_t max_source_positions = 2048;
  int64_t max_target_positions = 512;

  // Copy attention (pointer-generator through the pooled memory, nn/copy_attention.h): the decoder's output mixes
  // the vocabulary distribution with a copy distribution over the source ids its cross-attention points at.
  bool copy_attention = false;
  int64_t alignment_layer = -1;  // the decoder layer whose cross-attention points (-1 = the last), as fairseq
  int64_t alignment_heads = 1;   // its first N heads, averaged, as fairseq's --alignment-heads
  // Source framing (CTranslate2 keeps add_source_bos/eos in the model): true when the model was trained on sources
  // whose sentences are joined by the <sep> piece (`data prepare --source-sep`); every consumer (Summarizer,
  // highlight, serve) encodes sources the same way. Set by `train` from the dataset's meta.json.
  bool source_sentence_separators = false;
  // BART's framing (CTranslate2's add_source_bos; Hugging Face's tokenizer and forced_bos_token_id). Recorded in the
  // dataset's meta.json by `data prepare --source-bos / --target-bos`, copied by `train`, set by the importers.
  // source_bos: sources are BOS + tokens + EOS (else tokens + EOS).
  // target_bos: targets are BOS + tokens + EOS, so the decoder reads decoder_start, BOS, tokens; generation forces
  // BOS as the first generated token (log-probability 0, as Hugging Face's ForcedBOSTokenLogitsProcessor) and the
  // summary's text drops it.
  bool source_bos = false;
  bool target_bos = false;

  // Encoder sparsity.
  int64_t chunk_size = 0;  // blockwise self-attention block; 0 = full attention
  PoolingConfig pooling;

  // Parses the `model:` section of a YAML document; other top-level sections (training:, ...) are ignored.
  // Unknown keys inside `model:`, wrong types and invalid values throw std::invalid_argument naming
  // `origin` and the field, e.g. "configs/x.yaml: model.d_modle: unknown key".
  static ModelConfig from_yaml(const YAML::Node& document, const std::string& origin);
  static ModelConfig from_file(const std::string& path);
  static ModelConfig from_yaml_string(const std::string& text, const std::string& origin);

  static std::vector<std::string> keys();  // every key of the `model:` section, in documentation order

  YAML::Node to_yaml() const;  // {model: {...}}, every key
  std::string to_yaml_string() const;

  void validate() const;  // throws std::invalid_argument on inconsistent values (heads vs d_model, pooling layers)

  int64_t head_dim() const { return d_model / attention_heads; }
  int64_t resolved_decoder_ffn_dim() const { return decoder_ffn_dim > 0 ? decoder_ffn_dim : ffn_dim; }
  int64_t decoder_start() const { return decoder_start_id >= 0 ? decoder_start_id : bos_id; }
  // The token generation must produce first (target_bos), or -1.
  int64_t forced_first_token() const { return target_bos ? bos_id : -1; }
  // The decoder layer copy attention reads (alignment_layer with -1 resolved).
  int64_t resolved_alignment_layer() const {
    return alignment_layer < 0 ? decoder_layers + alignment_layer : alignment_layer;
  }
  TransformerLayerOptions layer_options() const;          // the encoder's
  TransformerLayerOptions decoder_layer_options() const;  // the same with the decoder's ffn_dim
  TopKOptions topk_options() const;

  // Sequence length after each encoder layer for a source of `source_length` tokens.
  std::vector<int64_t> encoder_lengths(int64_t source_length) const;
};

// Applies `key=value` (key relative to `model.`, a leading `model.` is accepted, e.g. "pooling.schedule.0=128",
// "pooling.sort_back=false", legacy "pooling.0=128" / "pooling={0: 256}") and re-validates; errors name the override.
void apply_override(ModelConfig& config, const std::string& assignment);

// The one rewrite of a model override (key relative to the document root, "model.x=v"): the legacy pooling forms
// "model.pooling.<int>=w" and "model.pooling={<int>: w, ...}" become "model.pooling.schedule...". Other
// assignments are returned unchanged.
std::string canonical_model_override(const std::string& scoped_assignment);

// Throws std::runtime_error naming `path` when a tokenizer's vocabulary does not match the model's.
void check_vocabulary(const ModelConfig& config, int64_t tokenizer_vocab_size, const std::string& path);
// The model's pad/bos/eos ids must be its tokenizer's (a tokenizer without BOS: the model starts from EOS).
// Throws std::runtime_error naming `path` and both sets of ids.
void check_special_ids(const ModelConfig& config, int64_t tokenizer_pad, int64_t tokenizer_bos, int64_t tokenizer_eos,
                       const std::string& path);

}  // namespace pyramidion

#pragma once
// The encoder-decoder summarization model: vanilla, blockwise, Transpooler and (Deep) Pyramidion are all this
// class with different ModelConfig values (chunk_size, pooling).
//
//   source tokens -> tied embeddings * sqrt(d) + sinusoidal positions (whole document)
//     -> encoder layers (full or blockwise self-attention); after layer i in config.pooling, a
//        pooler of type config.pooling.type (make_pooler) keeps config.pooling.schedule[i] representations
//     -> EncoderOutput (memory) -> decoder layers (causal self-attention + cross-attention) -> tied output projection
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <map>

#include "pyramidion/models/model_config.h"
#include "pyramidion/nn/decoder_cache.h"
#include "pyramidion/nn/encoder_output.h"
#include "pyramidion/nn/pooler.h"
#include "pyramidion/nn/quantizable_linear.h"
#include "pyramidion/nn/transformer_decoder_layer.h"
#include "pyramidion/nn/transformer_encoder_layer.h"

namespace pyramidion {

class SummarizationModelImpl : public torch::nn::Module {
 public:
  explicit SummarizationModelImpl(const ModelConfig& config);  // validates the config

  // source (batch, src_len) int64 token ids, source_mask (batch, src_len) bool, true = real; right-padded.
  // src_len <= config.max_source_positions. Returns memory (batch, memory_len, dim) + its mask.
  EncoderOutput encode(const torch::Tensor& source, const torch::Tensor& source_mask);

  // Teacher forcing: target_in (batch, tgt_len) int64 (bos + summary[:-1]) -> logits (batch, tgt_len, vocab).
  // With copy_attention the "logits" are the log-probabilities of the pointer-generator mixture (float32 or
  // wider): log_softmax, which every consumer applies, leaves them as they are.
  torch::Tensor decode(const torch::Tensor& target_in, const EncoderOutput& memory);

  // Copy attention, teacher forcing (inspection: the highlight view): target_in (batch, tgt_len) ->
  // p_gen (batch, tgt_len) float32, the probability that step t generates rather than copies, and
  // *attention (batch, tgt_len, memory_len) float32 the pointing distribution over the memory slots.
  // Throws std::logic_error for a model without copy attention.
  torch::Tensor copy_gate(const torch::Tensor& target_in, const EncoderOutput& memory,
                          torch::Tensor* attention = nullptr);

  // Teacher forcing that also returns every decoder layer's cross-attention probabilities over the memory:
  // target_in (batch, tgt_len) -> (batch, decoder_layers, heads, tgt_len, memory_len) float32. Query i is the
  // step that predicts token i + 1 of bos + summary. For inspection (the highlight view), not for decoding.
  torch::Tensor cross_attention(const torch::Tensor& target_in, const EncoderOutput& memory);

  // Incremental decoding: computes the cross-attention keys/values of `memory` once.
  DecoderCache start_decoding(const EncoderOutput& memory);
  // tokens (batch) int64, the last token of each row -> logits (batch, vocab) for the next one; extends the cache.
  torch::Tensor decode_step(const torch::Tensor& tokens, DecoderCache& cache);

  // encode + decode: logits (batch, tgt_len, vocab).
  torch::Tensor forward(const torch::Tensor& source, const torch::Tensor& source_mask, const torch::Tensor& target_in);

  const ModelConfig& config() const { return config_; }
  int64_t parameter_count() const;

  // int8 weights for CPU inference (compute type int8_float32): every attention, feed-forward and output
  // projection and the token embedding become int8 per output row (ops/int8_linear.h); layer norms, poolers, the
  // copy gate and biases stay float32. Inference only (the int8 weights have no gradient); not undone.
  void quantize_int8();  // from the float weights
  void prepare_int8();   // the int8 layout, zero-filled, for load_module_tensors to fill (an int8 model file)
  bool is_int8() const;

  // Tokens per self-attention block of encoder layer `layer` for an input of `input_length` tokens.
  int64_t block_size(int64_t layer, int64_t input_length) const;

 private:
  torch::Tensor embed_source(const torch::Tensor& source, const torch::Tensor& source_mask);  // (batch, src_len, dim)
  torch::Tensor embed_target(const torch::Tensor& tokens, int64_t first_position);            // (batch, len, dim)
  torch::Tensor project_output(const torch::Tensor& hidden);
  torch::Tensor lookup_embeddings(const torch::Tensor& tokens);  // (batch, len) int64 -> (batch, len, dim)
  void embeddings_to_int8(
      const torch::Tensor& values,
      const torch::Tensor& scale);  // (vocab, dim) int8, (vocab)  // (batch, ..., dim) -> (batch, ..., vocab)
  // Teacher forcing through the decoder layers: embedded (batch, tgt_len, dim) -> final states (batch, tgt_len, dim);
  // tap (when set) receives the alignment layer's cross-attention.
  torch::Tensor run_decoder(const torch::Tensor& embedded, const EncoderOutput& memory, CrossAttentionTap* tap);
  // p_gen (batch, queries, 1) from the decoder's final states, the alignment context and the input embeddings.
  torch::Tensor copy_probability(const torch::Tensor& state, const torch::Tensor& context,
                                 const torch::Tensor& embedded);
  // The alignment heads' mean: (batch, heads, queries, memory_len) -> (batch, queries, memory_len).
  torch::Tensor pointing(const torch::Tensor& weights) const;

  ModelConfig config_;
  torch::nn::Embedding embed_tokens_{nullptr};    // (vocab, dim), shared by encoder, decoder and output
  torch::Tensor embed_scale_;                     // (vocab) float32 once the embedding is int8
  QuantizableLinear output_projection_{nullptr};  // only when tie_output_projection is false
  torch::nn::Linear copy_gate_{nullptr};          // copy_attention only: [state; context; embedding] -> p_gen logit
  torch::nn::ModuleList encoder_layers_{nullptr};
  std::vector<TransformerEncoderLayer> encoder_layer_list_;
  std::map<int64_t, std::shared_ptr<PoolerImpl>> poolers_;  // after encoder layer index (make_pooler)
  torch::nn::ModuleList decoder_layers_{nullptr};
  std::vector<TransformerDecoderLayer> decoder_layer_list_;
  torch::nn::LayerNorm encoder_final_norm_{nullptr}, decoder_final_norm_{nullptr};  // pre-norm only
};
TORCH_MODULE(SummarizationModel);

}  // namespace pyramidion

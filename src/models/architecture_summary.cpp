#include "pyramidion/models/architecture_summary.h"

#include <fmt/format.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "pyramidion/models/summarization_model.h"

namespace pyramidion {
namespace {

// Self- or cross-attention of `queries` tokens over `keys` tokens in blocks (`blocks` independent problems).
AttentionCost attention_cost(double blocks, double queries, double keys, double dim, double heads, double bytes,
                             bool self) {
  AttentionCost cost;
  const double q_tokens = blocks * queries, k_tokens = blocks * keys;
  const double projections = 2 * dim * dim * (2 * q_tokens + 2 * k_tokens);  // q, out on queries; k, v on keys
  const double products = 4 * blocks * queries * keys * dim;                 // QK^T and PV
  cost.flops = projections + products;
  const double probs = heads * blocks * queries * keys;
  const double tensors = (2 * q_tokens + 2 * k_tokens) * dim;
  cost.activation_bytes = (probs + tensors) * bytes;
  (void)self;
  return cost;
}

std::string human(double value, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (value >= 1000 && i < 5) {
    value /= 1000;
    ++i;
  }
  return fmt::format("{:.2f} {}{}", value, prefixes[i], unit);
}

std::string bytes_text(double value) {
  const char* prefixes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (value >= 1024 && i < 4) {
    value /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", value, prefixes[i]);
}

nlohmann::json costs_json(const ArchitectureSummary& s, double AttentionCost::*member) {
  return {{"encoder_self", s.encoder_self.*member},
          {"decoder_cross", s.decoder_cross.*member},
          {"decoder_self", s.decoder_self.*member}};
}

}  // namespace

// An upper bound of the parameters (attention, feed-forward, norms and poolers per layer, embeddings, output
// projection), in long double so that no size can overflow while it is computed.
long double parameter_bound(const ModelConfig& c) {
  const long double d = c.d_model, ffn = c.ffn_dim, vocab = c.vocab_size;
  const long double layer = 8 * d * d + 2 * d * ffn + ffn + 32 * d;  // self + cross attention, FFN, norms, scorer
  return 2 * vocab * d + (static_cast<long double>(c.encoder_layers) + c.decoder_layers) * layer + 16 * d;
}

// Counted on the built model (CPU, no autograd), so the count follows the code of every layer and pooler type.
// Sizes whose count cannot be an int64, or that are too big to build just to count them, are refused first.
int64_t count_parameters(const ModelConfig& c) {
  const long double bound = parameter_bound(c);
  if (!(bound < static_cast<long double>(std::numeric_limits<int64_t>::max())))
    throw std::invalid_argument(fmt::format(
        "model: about {:.3g} parameters: the count overflows int64 (d_model {}, "
        "ffn_dim {}, vocab_size {}, {}+{} layers)",
        static_cast<double>(bound), c.d_model, c.ffn_dim, c.vocab_size, c.encoder_layers, c.decoder_layers));
  constexpr long double kBuildLimit = 1ULL << 34;  // 64 GiB of float32 weights
  if (bound > kBuildLimit)
    throw std::invalid_argument(fmt::format("model: about {:.3g} parameters: too large to build (more than {:.3g})",
                                            static_cast<double>(bound), static_cast<double>(kBuildLimit)));
  torch::NoGradGuard no_grad;
  SummarizationModel model(c);
  return model->parameter_count();
}

ArchitectureSummary summarize_architecture(const ModelConfig& config, const SummaryOptions& options) {
  if (options.source_length < 0)
    throw std::invalid_argument("source length " + std::to_string(options.source_length) +
                                " must be >= 0 (0 = max_source_positions)");
  if (options.target_length < 0)
    throw std::invalid_argument("target length " + std::to_string(options.target_length) +
                                " must be >= 0 (0 = max_target_positions)");
  if (options.bytes_per_element < 1 || options.bytes_per_element > 16)
    throw std::invalid_argument("bytes per element " + std::to_string(options.bytes_per_element) + " must be in 1..16");
  constexpr int64_t kMaxLength = int64_t{1} << 40;  // lengths stay far from int64 overflow in the block arithmetic
  if (config.max_source_positions > kMaxLength || config.max_target_positions > kMaxLength)
    throw std::invalid_argument("model: max_source_positions / max_target_positions above 2^40 are not supported");
  ArchitectureSummary s;
  s.parameters = count_parameters(config);
  s.source_length = options.source_length > 0 ? options.source_length : config.max_source_positions;
  s.target_length = options.target_length > 0 ? options.target_length : config.max_target_positions;
  s.bytes_per_element = options.bytes_per_element;
  if (s.source_length > config.max_source_positions)
    throw std::invalid_argument("source length " + std::to_string(s.source_length) + " exceeds max_source_positions " +
                                std::to_string(config.max_source_positions));
  const double d = static_cast<double>(config.d_model), heads = static_cast<double>(config.attention_heads);
  const double bytes = static_cast<double>(options.bytes_per_element);
  const auto lengths = config.encoder_lengths(s.source_length);
  int64_t length = s.source_length;
  for (int64_t i = 0; i < config.encoder_layers; ++i) {
    EncoderLayerSummary layer;
    layer.layer = i;
    layer.input_length = length;
    layer.block_size = config.chunk_size > 0 ? std::min(config.chunk_size, length) : length;
    const int64_t blocks = layer.block_size > 0 ? (length + layer.block_size - 1) / layer.block_size : 0;
    layer.self_attention = attention_cost(static_cast<double>(blocks), static_cast<double>(layer.block_size),
                                          static_cast<double>(layer.block_size), d, heads, bytes, true);
    layer.output_length = lengths[static_cast<size_t>(i)];
    layer.pooled = layer.output_length < length;
    s.encoder_self += layer.self_attention;
    s.encoder_layers.push_back(layer);
    length = layer.output_length;
  }
  s.decoder_memory_length = length;
  const double t = static_cast<double>(s.target_length), layers = static_cast<double>(config.decoder_layers);
  AttentionCost cross = attention_cost(1, t, static_cast<double>(length), d, heads, bytes, false);
  AttentionCost self = attention_cost(1, t, t, d, heads, bytes, true);
  s.decoder_cross = {cross.flops * layers, cross.activation_bytes * layers};
  s.decoder_self = {self.flops * layers, self.activation_bytes * layers};
  return s;
}

std::vector<int64_t> ArchitectureSummary::encoder_lengths() const {
  std::vector<int64_t> out;
  for (const auto& layer : encoder_layers) out.push_back(layer.output_length);
  return out;
}

nlohmann::json ArchitectureSummary::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : encoder_layers)
    layers.push_back({{"layer", l.layer},
                      {"input_length", l.input_length},
                      {"block_size", l.block_size},
                      {"output_length", l.output_length},
                      {"pooled", l.pooled},
                      {"attention_flops", l.self_attention.flops},
                      {"activation_bytes", l.self_attention.activation_bytes}});
  return {{"parameters", parameters},
          {"source_length", source_length},
          {"target_length", target_length},
          {"bytes_per_element", bytes_per_element},
          {"encoder_lengths", encoder_lengths()},
          {"encoder_layers", layers},
          {"decoder_memory_length", decoder_memory_length},
          {"attention_flops", costs_json(*this, &AttentionCost::flops)},
          {"activation_bytes", costs_json(*this, &AttentionCost::activation_bytes)}};
}

std::string ArchitectureSummary::to_text() const {
  std::string out;
  out += fmt::format("parameters        {} ({})\n", parameters, human(static_cast<double>(parameters), ""));
  out += fmt::format("source length     {} tokens, target length {} tokens\n", source_length, target_length);
  out += "\nencoder  input  block  output   attn FLOPs    attn activations\n";
  for (const auto& l : encoder_layers)
    out += fmt::format("  {:>5}  {:>5}  {:>5}  {:>6}{}  {:>11}  {:>12}\n", l.layer, l.input_length, l.block_size,
                       l.output_length, l.pooled ? "*" : " ", human(l.self_attention.flops, "FLOP"),
                       bytes_text(l.self_attention.activation_bytes));
  out += "  (* pooled after this layer)\n";
  out += fmt::format("\ndecoder memory length  {}\n", decoder_memory_length);
  out += fmt::format("\nattention per document, forward ({} bytes/element)\n", bytes_per_element);
  out += fmt::format("  {:<24} {:>14}  {:>12}\n", "", "FLOPs", "activations");
  auto row = [&](const char* name, const AttentionCost& c) {
    out += fmt::format("  {:<24} {:>14}  {:>12}\n", name, human(c.flops, "FLOP"), bytes_text(c.activation_bytes));
  };
  row("encoder self-attention", encoder_self);
  row("decoder cross-attention", decoder_cross);
  row("decoder self-attention", decoder_self);
  AttentionCost total = encoder_self;
  total += decoder_cross;
  total += decoder_self;
  row("total", total);
  return out;
}

double estimate_training_bytes(const ModelConfig& config, int64_t length, int64_t batch, int64_t target_length,
                               int64_t bytes_per_element) {
  ModelConfig c = config;
  c.max_source_positions = std::max(c.max_source_positions, length);
  const auto s = summarize_architecture(c, {length, target_length, bytes_per_element});
  const double b = static_cast<double>(bytes_per_element), d = static_cast<double>(c.d_model),
               ffn = static_cast<double>(c.ffn_dim), t = static_cast<double>(target_length);
  const double weights = static_cast<double>(s.parameters) * b * 4;  // weights, gradients, two AdamW moments
  // Attention probabilities are kept before and after dropout by the math path.
  double per_document =
      2 * (s.encoder_self.activation_bytes + s.decoder_cross.activation_bytes + s.decoder_self.activation_bytes);
  for (const auto& layer : s.encoder_layers)
    per_document += static_cast<double>(layer.input_length) * (2 * ffn + 8 * d) * b;  // FFN, norms, residuals
  per_document += static_cast<double>(c.decoder_layers) * t * (2 * ffn + 12 * d) * b;
  per_document += static_cast<double>(length) * d * 3 * b;          // embeddings + positions
  per_document += t * static_cast<double>(c.vocab_size) * (b + 8);  // logits, float32 copy, log-softmax
  return weights + static_cast<double>(batch) * per_document;
}

double estimate_inference_bytes(const ModelConfig& config, int64_t length, int64_t documents, int64_t beam,
                                int64_t gen_tokens, int64_t bytes_per_element) {
  ModelConfig c = config;
  c.max_source_positions = std::max(c.max_source_positions, length);
  const auto s = summarize_architecture(c, {length, gen_tokens, bytes_per_element});
  const double b = static_cast<double>(bytes_per_element), d = static_cast<double>(c.d_model),
               ffn = static_cast<double>(c.ffn_dim), heads = static_cast<double>(c.attention_heads);
  double encoder = 0;  // the largest layer's transient tensors; nothing is kept for backward
  for (const auto& layer : s.encoder_layers) {
    const double blocks = std::ceil(static_cast<double>(layer.input_length) / static_cast<double>(layer.block_size));
    const double block = static_cast<double>(layer.block_size);
    encoder = std::max(
        encoder, 2 * heads * blocks * block * block * b + static_cast<double>(layer.input_length) * (ffn + 6 * d) * b);
  }
  encoder += static_cast<double>(length) * d * 3 * b;
  const double rows = static_cast<double>(documents * beam);
  const double cache = rows * static_cast<double>(c.decoder_layers) * 2 *
                       static_cast<double>(s.decoder_memory_length + gen_tokens) * d * b;
  const double logits = rows * static_cast<double>(c.vocab_size) * (b + 4 + 8);  // float log-probs, double copy
  return static_cast<double>(s.parameters) * b + static_cast<double>(documents) * encoder + cache + logits;
}

}  // namespace pyramidion

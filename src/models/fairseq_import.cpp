#include "pyramidion/models/fairseq_import.h"

#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>

#include "pyramidion/models/torch_save_reader.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_arg(const std::string& origin, const std::string& key, const std::string& what) {
  throw std::runtime_error(origin + ": " + (key.empty() ? "" : "args." + key + ": ") + what);
}

}  // namespace

ModelConfig fairseq_model_config(const nlohmann::json& args, int64_t vocab_size, const std::string& origin) {
  auto has = [&](const char* key) { return args.contains(key) && !args[key].is_null(); };
  auto integer = [&](const char* key) -> int64_t {
    if (!has(key)) fail_arg(origin, key, "missing");
    if (!args[key].is_number_integer()) fail_arg(origin, key, "expected an integer, got " + args[key].dump());
    return args[key].get<int64_t>();
  };
  auto integer_or = [&](const char* key, int64_t fallback) { return has(key) ? integer(key) : fallback; };
  auto boolean = [&](const char* key, bool fallback) -> bool {
    if (!has(key)) return fallback;
    if (!args[key].is_boolean()) fail_arg(origin, key, "expected true or false, got " + args[key].dump());
    return args[key].get<bool>();
  };
  auto number = [&](const char* key, double fallback) -> double {
    if (!has(key)) return fallback;
    if (!args[key].is_number()) fail_arg(origin, key, "expected a number, got " + args[key].dump());
    return args[key].get<double>();
  };
  if (!args.is_object()) fail_arg(origin, "", "no args (expected fairseq's argparse Namespace under \"args\")");
  const std::string arch = has("arch") && args["arch"].is_string() ? args["arch"].get<std::string>() : "";
  if (!starts_with(arch, "bart") && !starts_with(arch, "transformer"))
    fail_arg(origin, "arch", "'" + arch + "' is not supported (bart_*, transformer*)");
  ModelConfig m;
  m.vocab_size = vocab_size;
  m.pad_id = 1;  // fairseq's Dictionary: <s> 0, <pad> 1, </s> 2, <unk> 3
  m.bos_id = 0;
  m.eos_id = 2;
  m.decoder_start_id = 2;  // prev_output_tokens start with eos
  // BART: BARTHubInterface.encode frames sources as <s> ... </s>, and generate() passes <s> as the prefix token.
  m.source_bos = m.target_bos = starts_with(arch, "bart");
  m.d_model = integer("encoder_embed_dim");
  if (integer_or("decoder_embed_dim", m.d_model) != m.d_model)
    fail_arg(origin, "decoder_embed_dim", "differs from encoder_embed_dim");
  if (integer_or("decoder_output_dim", m.d_model) != m.d_model)
    fail_arg(origin, "decoder_output_dim", "differs from the model width");
  m.encoder_layers = integer("encoder_layers");
  m.decoder_layers = integer("decoder_layers");
  m.attention_heads = integer("encoder_attention_heads");
  if (integer_or("decoder_attention_heads", m.attention_heads) != m.attention_heads)
    fail_arg(origin, "decoder_attention_heads", "differs from encoder_attention_heads");
  m.ffn_dim = integer("encoder_ffn_embed_dim");
  const int64_t decoder_ffn = integer_or("decoder_ffn_embed_dim", m.ffn_dim);
  m.decoder_ffn_dim = decoder_ffn == m.ffn_dim ? 0 : decoder_ffn;
  const std::string activation = has("activation_fn") ? args["activation_fn"].get<std::string>() : "relu";
  if (activation == "gelu")
    m.activation = Activation::gelu;
  else if (activation == "relu")
    m.activation = Activation::relu;
  else
    fail_arg(origin, "activation_fn", "'" + activation + "' is not supported (gelu, relu)");
  m.normalize_before = boolean("encoder_normalize_before", false);
  if (boolean("decoder_normalize_before", false) != m.normalize_before)
    fail_arg(origin, "decoder_normalize_before", "differs from encoder_normalize_before");
  if (boolean("no_token_positional_embeddings", false))
    fail_arg(origin, "no_token_positional_embeddings", "true is not supported");
  const bool learned = boolean("encoder_learned_pos", false);
  if (boolean("decoder_learned_pos", false) != learned)
    fail_arg(origin, "decoder_learned_pos", "differs from encoder_learned_pos");
  m.position_embeddings = learned ? PositionEmbeddings::learned : PositionEmbeddings::sinusoidal;
  m.layernorm_embedding = boolean("layernorm_embedding", false);
  m.scale_embedding = !boolean("no_scale_embedding", false);
  m.tie_output_projection =
      boolean("share_decoder_input_output_embed", false) || boolean("share_all_embeddings", false);
  if (has("adaptive_softmax_cutoff")) fail_arg(origin, "adaptive_softmax_cutoff", "adaptive softmax is not supported");
  if (boolean("cross_self_attention", false)) fail_arg(origin, "cross_self_attention", "true is not supported");
  m.max_source_positions = integer_or("max_source_positions", 1024);
  m.max_target_positions = integer_or("max_target_positions", 1024);
  m.dropout = number("dropout", 0.1);
  m.attention_dropout = number("attention_dropout", 0.0);
  m.activation_dropout = number("activation_dropout", number("relu_dropout", 0.0));
  m.output_bias = false;
  try {
    m.validate();
  } catch (const std::invalid_argument& e) {
    fail_arg(origin, "", e.what());
  }
  return m;
}

ImportedModel import_fairseq_checkpoint(const std::string& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error(path + ": not a file (expected a fairseq checkpoint .pt)");
  const nlohmann::json top = read_torch_save_values(path);
  if (!top.is_object() || !top.contains("model"))
    throw std::runtime_error(path + ": no 'model' entry (not a fairseq checkpoint)");
  if (!top.contains("args") || !top["args"].is_object() || top["args"].empty())
    throw std::runtime_error(path +
                             ": no args Namespace (checkpoints with only an omegaconf cfg are not supported: "
                             "re-save with args, or convert to Hugging Face first)");
  NamedTensors tensors;
  int64_t vocab = -1;
  for (auto& [name, tensor] : read_torch_save_tensors(path, "model")) {
    if (name == "encoder.version" || name == "decoder.version" || ends_with(name, "embed_positions._float_tensor"))
      continue;
    if (name == "encoder.embed_tokens.weight" && tensor.dim() == 2) vocab = tensor.size(0);
    tensors.emplace_back(name == "decoder.output_projection.weight" ? "lm_head.weight" : name, tensor);
  }
  if (vocab < 0) throw std::runtime_error(path + ": missing encoder.embed_tokens.weight");
  const ModelConfig config = fairseq_model_config(top["args"], vocab, path);
  ImportedModel out;
  out.architecture =
      starts_with(top["args"]["arch"].get<std::string>(), "bart") ? "fairseq_bart" : "fairseq_transformer";
  out.model = model_from_hf_tensors(config, tensors, path);
  out.metadata = {{"imported_from",
                   {{"format", "fairseq"},
                    {"architecture", top["args"]["arch"]},
                    {"path", fs::absolute(path).lexically_normal().string()},
                    {"tokenizer_kind", ""}}}};
  return out;
}

}  // namespace pyramidion

#include "pyramidion/models/hf_config.h"

#include <stdexcept>

namespace pyramidion {
namespace {

[[noreturn]] void fail(const std::string& origin, const std::string& key, const std::string& what) {
  throw std::runtime_error(origin + ": " + (key.empty() ? "" : key + ": ") + what);
}

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, const std::string& origin) : json_(json), origin_(origin) {}

  int64_t integer(const std::string& key) const {
    if (!json_.contains(key)) fail(origin_, key, "missing");
    const auto& v = json_[key];
    if (!v.is_number_integer()) fail(origin_, key, "expected an integer, got " + v.dump());
    return v.get<int64_t>();
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    return json_.contains(key) && !json_[key].is_null() ? integer(key) : fallback;
  }
  double number(const std::string& key, double fallback) const {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_number()) fail(origin_, key, "expected a number, got " + json_[key].dump());
    return json_[key].get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_boolean()) fail(origin_, key, "expected true or false, got " + json_[key].dump());
    return json_[key].get<bool>();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_string()) fail(origin_, key, "expected a string, got " + json_[key].dump());
    return json_[key].get<std::string>();
  }

 private:
  const nlohmann::json& json_;
  const std::string& origin_;
};

}  // namespace

std::vector<std::string> hf_architectures() { return {"bart", "pegasus"}; }

ModelConfig hf_model_config(const nlohmann::json& config, const std::string& origin) {
  if (!config.is_object()) fail(origin, "", "expected a JSON object");
  const ConfigReader r(config, origin);
  const std::string type = r.text("model_type", "");
  if (type.empty()) fail(origin, "model_type", "missing (expected bart or pegasus)");
  const bool bart = type == "bart";
  if (!bart && type != "pegasus") fail(origin, "model_type", "'" + type + "' is not supported (known: bart, pegasus)");
  ModelConfig m;
  m.vocab_size = r.integer("vocab_size");
  m.d_model = r.integer("d_model");
  m.encoder_layers = r.integer("encoder_layers");
  m.decoder_layers = r.integer("decoder_layers");
  m.attention_heads = r.integer("encoder_attention_heads");
  if (r.integer("decoder_attention_heads") != m.attention_heads)
    fail(origin, "decoder_attention_heads",
         "differs from encoder_attention_heads (" + std::to_string(m.attention_heads) + "): not supported");
  m.ffn_dim = r.integer("encoder_ffn_dim");
  const int64_t decoder_ffn = r.integer("decoder_ffn_dim");
  m.decoder_ffn_dim = decoder_ffn == m.ffn_dim ? 0 : decoder_ffn;
  const std::string activation = r.text("activation_function", "gelu");
  if (activation == "gelu")
    m.activation = Activation::gelu;
  else if (activation == "relu")
    m.activation = Activation::relu;
  else
    fail(origin, "activation_function", "'" + activation + "' is not supported (gelu, relu)");
  m.max_source_positions = m.max_target_positions = r.integer("max_position_embeddings");
  m.dropout = r.number("dropout", 0.1);
  m.attention_dropout = r.number("attention_dropout", 0.0);
  m.activation_dropout = r.number("activation_dropout", 0.0);
  m.scale_embedding = r.boolean("scale_embedding", false);
  m.pad_id = r.integer("pad_token_id");
  m.eos_id = r.integer("eos_token_id");
  m.bos_id = r.integer("bos_token_id", m.eos_id);  // PEGASUS has no BOS: the tokenizer's convention (bos = eos)
  m.decoder_start_id = r.integer("decoder_start_token_id", bart ? m.eos_id : m.pad_id);
  // BART's tokenizer frames sources as <s> ... </s> (and labels likewise); generation forces <s> first when the config
  // says so (forced_bos_token_id, or the older force_bos_token_to_be_generated). PEGASUS frames neither.
  m.source_bos = bart;
  int64_t forced_bos = r.integer("forced_bos_token_id", -1);
  if (forced_bos < 0 && r.boolean("force_bos_token_to_be_generated", false)) forced_bos = m.bos_id;
  if (forced_bos >= 0 && (!bart || forced_bos != m.bos_id))
    fail(origin, "forced_bos_token_id",
         std::to_string(forced_bos) + " is not supported (only BART's bos_token_id " + std::to_string(m.bos_id) + ")");
  m.target_bos = forced_bos >= 0;
  m.tie_output_projection = r.boolean("tie_word_embeddings", true);
  if (r.boolean("add_bias_logits", false)) fail(origin, "add_bias_logits", "true is not supported");
  m.output_bias = true;  // final_logits_bias (zeros when a checkpoint has none)
  m.normalize_before = !bart;
  m.position_embeddings = bart ? PositionEmbeddings::learned : PositionEmbeddings::pegasus_sinusoidal;
  m.layernorm_embedding = bart;
  try {
    m.validate();
  } catch (const std::invalid_argument& e) {
    fail(origin, "", e.what());
  }
  return m;
}

std::string hf_architecture_of(const ModelConfig& c) {
  auto refuse = [](const std::string& why) -> std::string {
    throw std::runtime_error("the model has no Hugging Face BART or PEGASUS form: " + why);
  };
  if (!c.pooling.schedule.empty()) refuse("it pools (model.pooling.schedule is not empty)");
  if (c.chunk_size != 0)
    refuse("its encoder attends blockwise (model.chunk_size " + std::to_string(c.chunk_size) + ")");
  if (c.copy_attention) refuse("it has copy attention");
  if (c.max_source_positions != c.max_target_positions)
    refuse("max_source_positions " + std::to_string(c.max_source_positions) + " differs from max_target_positions " +
           std::to_string(c.max_target_positions) + " (one max_position_embeddings)");
  if (c.position_embeddings == PositionEmbeddings::learned && !c.normalize_before && c.layernorm_embedding)
    return "bart";
  if (c.position_embeddings == PositionEmbeddings::pegasus_sinusoidal && c.normalize_before && !c.layernorm_embedding)
    return "pegasus";
  return refuse(
      "BART needs position_embeddings learned, post-norm and layernorm_embedding; PEGASUS "
      "position_embeddings pegasus_sinusoidal, pre-norm and no layernorm_embedding");
}

nlohmann::json hf_config_json(const ModelConfig& c) {
  const std::string type = hf_architecture_of(c);
  const bool bart = type == "bart";
  nlohmann::json j = {
      {"architectures", {bart ? "BartForConditionalGeneration" : "PegasusForConditionalGeneration"}},
      {"model_type", type},
      {"vocab_size", c.vocab_size},
      {"d_model", c.d_model},
      {"encoder_layers", c.encoder_layers},
      {"decoder_layers", c.decoder_layers},
      {"encoder_attention_heads", c.attention_heads},
      {"decoder_attention_heads", c.attention_heads},
      {"encoder_ffn_dim", c.ffn_dim},
      {"decoder_ffn_dim", c.resolved_decoder_ffn_dim()},
      {"activation_function", c.activation == Activation::gelu ? "gelu" : "relu"},
      {"max_position_embeddings", c.max_source_positions},
      {"dropout", c.dropout},
      {"attention_dropout", c.attention_dropout},
      {"activation_dropout", c.activation_dropout},
      {"scale_embedding", c.scale_embedding},
      {"pad_token_id", c.pad_id},
      {"eos_token_id", c.eos_id},
      {"decoder_start_token_id", c.decoder_start()},
      {"tie_word_embeddings", c.tie_output_projection},
      {"is_encoder_decoder", true},
      {"normalize_before", c.normalize_before},
      {"add_final_layer_norm", c.normalize_before},
  };
  if (bart || c.bos_id != c.eos_id) j["bos_token_id"] = c.bos_id;
  if (c.target_bos) j["forced_bos_token_id"] = c.bos_id;
  if (!bart) j["static_position_embeddings"] = true;
  return j;
}

}  // namespace pyramidion

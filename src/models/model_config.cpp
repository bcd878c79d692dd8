#include "pyramidion/models/model_config.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "pyramidion/models/config_document.h"
#include "pyramidion/models/pooler_factory.h"
#include "pyramidion/util/yaml_document.h"
#include "pyramidion/util/yaml_fields.h"
#include "pyramidion/util/yaml_override.h"

namespace pyramidion {
namespace {

using yaml_fields::describe_node;
using yaml_fields::fail;
using yaml_fields::read_scalar;
using Field = yaml_fields::Field<ModelConfig>;

template <typename T>
Field integer(T ModelConfig::*m) {
  return yaml_fields::scalar<ModelConfig, T>(yaml_fields::member(m), "an integer");
}
Field real(double ModelConfig::*m) {
  return yaml_fields::scalar<ModelConfig, double>(yaml_fields::member(m), "a number");
}
Field boolean(bool ModelConfig::*m) {
  return yaml_fields::scalar<ModelConfig, bool>(yaml_fields::member(m), "true or false");
}
template <typename E>
Field choice(E ModelConfig::*m, std::vector<std::pair<std::string, E>> names) {
  return yaml_fields::choice<ModelConfig, E>(yaml_fields::member(m), std::move(names));
}

bool is_integer_key(const YAML::Node& key) {
  if (!key.IsScalar() || key.Scalar().empty()) return false;
  const std::string& t = key.Scalar();
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) return false;
  for (; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return false;
  return true;
}

void read_schedule(std::map<int64_t, int64_t>& schedule, const YAML::Node& n, const std::string& o,
                   const std::string& f) {
  schedule.clear();
  if (n.IsNull()) return;
  if (!n.IsMap()) fail(o, f, "expected a map {layer_index: width}, got " + describe_node(n));
  for (const auto& item : n) {
    const auto layer = read_scalar<int64_t>(item.first, o, f, "integer layer indices");
    schedule[layer] = read_scalar<int64_t>(item.second, o, f + "." + item.first.Scalar(), "an integer width");
  }
}

// `pooling:` is either the nested section {type, schedule, base, flip_right, sort_back, hard_at_inference} or, in
// legacy files, the schedule itself ({layer: width}, every key an integer).
Field pooling_section() {
  return {[](ModelConfig& c, const YAML::Node& n, const std::string& o, const std::string& f) {
            PoolingConfig& p = c.pooling;
            if (n.IsNull()) return p.schedule.clear();
            if (!n.IsMap())
              fail(o, f, "expected a map {type: ..., schedule: {layer: width}, ...}, got " + describe_node(n));
            // Integer keys are schedule entries (a legacy section, possibly with nested keys set by --set on it).
            bool any_integer = false;
            for (const auto& item : n) any_integer = any_integer || is_integer_key(item.first);
            if (any_integer) p.schedule.clear();
            for (const auto& item : n) {
              const std::string key = item.first.as<std::string>();
              const std::string field = f + "." + key;
              if (is_integer_key(item.first))
                p.schedule[read_scalar<int64_t>(item.first, o, f, "integer layer indices")] =
                    read_scalar<int64_t>(item.second, o, f + ".schedule." + key, "an integer width");
              else if (key == "type")
                p.type = read_scalar<std::string>(item.second, o, field, "a pooler type name");
              else if (key == "schedule")
                read_schedule(p.schedule, item.second, o, field);
              else if (key == "base")
                p.base = read_scalar<double>(item.second, o, field, "a number");
              else if (key == "flip_right")
                p.flip_right = read_scalar<bool>(item.second, o, field, "true or false");
              else if (key == "sort_back")
                p.sort_back = read_scalar<bool>(item.second, o, field, "true or false");
              else if (key == "hard_at_inference")
                p.hard_at_inference = read_scalar<bool>(item.second, o, field, "true or false");
              else
                fail(o, field,
                     "unknown key (pooling keys: type, schedule, base, flip_right, sort_back, hard_at_inference)");
            }
          },
          [](const ModelConfig& c) {
            const PoolingConfig& p = c.pooling;
            YAML::Node schedule(YAML::NodeType::Map);
            for (const auto& [layer, width] : p.schedule) schedule[layer] = width;
            schedule.SetStyle(YAML::EmitterStyle::Flow);
            YAML::Node section(YAML::NodeType::Map);
            section["type"] = p.type;
            section["schedule"] = schedule;
            section["base"] = yaml_fields::number_node(p.base);
            section["flip_right"] = p.flip_right;
            section["sort_back"] = p.sort_back;
            section["hard_at_inference"] = p.hard_at_inference;
            return section;
          }};
}

template <typename T>
Field legacy_pooling(T PoolingConfig::*m, const char* expected) {
  return yaml_fields::scalar<ModelConfig, T>([m](ModelConfig& c) -> T& { return c.pooling.*m; }, expected);
}

// Read-only flat keys of old files and model files; to_yaml writes them inside `pooling:`.
const std::vector<std::pair<std::string, Field>>& legacy_fields() {
  static const std::vector<std::pair<std::string, Field>> table = {
      {"pooling_base", legacy_pooling(&PoolingConfig::base, "a number")},
      {"pooling_flip_right", legacy_pooling(&PoolingConfig::flip_right, "true or false")},
      {"pooling_sort_back", legacy_pooling(&PoolingConfig::sort_back, "true or false")},
      {"pooling_hard_at_inference", legacy_pooling(&PoolingConfig::hard_at_inference, "true or false")},
  };
  return table;
}

// Key order = order in to_yaml() and in the docs.
const std::vector<std::pair<std::string, Field>>& fields() {
  using C = ModelConfig;
  static const std::vector<std::pair<std::string, Field>> table = {
      {"vocab_size", integer(&C::vocab_size)},
      {"pad_id", integer(&C::pad_id)},
      {"bos_id", integer(&C::bos_id)},
      {"eos_id", integer(&C::eos_id)},
      {"d_model", integer(&C::d_model)},
      {"attention_heads", integer(&C::attention_heads)},
      {"ffn_dim", integer(&C::ffn_dim)},
      {"encoder_layers", integer(&C::encoder_layers)},
      {"decoder_layers", integer(&C::decoder_layers)},
      {"dropout", real(&C::dropout)},
      {"attention_dropout", real(&C::attention_dropout)},
      {"activation_dropout", real(&C::activation_dropout)},
      {"activation", choice(&C::activation, {{"relu", Activation::relu}, {"gelu", Activation::gelu}})},
      {"normalize_before", boolean(&C::normalize_before)},
      {"scale_embedding", boolean(&C::scale_embedding)},
      {"tie_output_projection", boolean(&C::tie_output_projection)},
      {"decoder_ffn_dim", integer(&C::decoder_ffn_dim)},
      {"position_embeddings",
       choice(&C::position_embeddings, {{"sinusoidal", PositionEmbeddings::sinusoidal},
                                        {"learned", PositionEmbeddings::learned},
                                        {"pegasus_sinusoidal", PositionEmbeddings::pegasus_sinusoidal}})},
      {"layernorm_embedding", boolean(&C::layernorm_embedding)},
      {"output_bias", boolean(&C::output_bias)},
      {"decoder_start_id", integer(&C::decoder_start_id)},
      {"attention_backend",
       choice(&C::attention_backend, {{"auto", AttentionBackend::automatic}, {"math", AttentionBackend::math}})},
      {"max_source_positions", integer(&C::max_source_positions)},
      {"max_target_positions", integer(&C::max_target_positions)},
      {"copy_attention", boolean(&C::copy_attention)},
      {"alignment_layer", integer(&C::alignment_layer)},
      {"alignment_heads", integer(&C::alignment_heads)},
      {"source_sentence_separators", boolean(&C::source_sentence_separators)},
      {"source_bos", boolean(&C::source_bos)},
      {"target_bos", boolean(&C::target_bos)},
      {"chunk_size", integer(&C::chunk_size)},
      {"pooling", pooling_section()},
  };
  return table;
}

}  // namespace

ModelConfig ModelConfig::from_yaml(const YAML::Node& document, const std::string& origin) {
  if (!document.IsMap()) fail(origin, "", "expected a YAML map with a 'model:' section");
  const YAML::Node model = document["model"];
  if (!model) fail(origin, "", "missing 'model:' section");
  if (!model.IsMap() && !model.IsNull()) fail(origin, "model", "expected a map, got " + describe_node(model));
  ModelConfig config;
  if (model.IsMap()) {
    for (const auto& item : model) {
      const std::string key = item.first.as<std::string>();
      const std::string field = "model." + key;
      bool known = false;
      for (const auto* table : {&fields(), &legacy_fields()}) {
        for (const auto& [name, f] : *table) {
          if (name == key) {
            f.read(config, item.second, origin, field);
            known = true;
            break;
          }
        }
        if (known) break;
      }
      if (!known) fail(origin, field, "unknown key (see docs/model.md for the model keys)");
    }
  }
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    fail(origin, "", e.what());
  }
  return config;
}

ModelConfig ModelConfig::from_yaml_string(const std::string& text, const std::string& origin) {
  return from_yaml(load_yaml_document(text, origin), origin);  // one document, no key twice
}

ModelConfig ModelConfig::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "", "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return from_yaml_string(text.str(), path);
}

YAML::Node ModelConfig::to_yaml() const {
  YAML::Node model(YAML::NodeType::Map);
  for (const auto& [name, f] : fields()) model[name] = f.write(*this);
  YAML::Node document(YAML::NodeType::Map);
  document["model"] = model;
  return document;
}

std::string ModelConfig::to_yaml_string() const {
  YAML::Emitter out;
  out << to_yaml();
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ModelConfig::keys() {
  std::vector<std::string> names;
  for (const auto& [name, f] : fields()) names.push_back(name);
  for (const auto& [name, f] : legacy_fields()) names.push_back(name);  // still accepted by from_yaml and --set
  return names;
}

void ModelConfig::validate() const {
  auto require = [](bool ok, const std::string& field, const std::string& message) {
    if (!ok) throw std::invalid_argument("model." + field + ": " + message);
  };
  require(d_model >= 2, "d_model", "must be >= 2");
  require(attention_heads >= 1 && d_model % attention_heads == 0, "attention_heads",
          std::to_string(attention_heads) + " must divide d_model (" + std::to_string(d_model) + ")");
  require(ffn_dim >= 1, "ffn_dim", "must be >= 1");
  require(decoder_ffn_dim >= 0, "decoder_ffn_dim", "must be >= 0 (0 = ffn_dim)");
  require(decoder_start_id >= -1 && decoder_start_id < vocab_size, "decoder_start_id",
          std::to_string(decoder_start_id) + " is outside the vocabulary (vocab_size " + std::to_string(vocab_size) +
              "; -1 = bos_id)");
  require(encoder_layers >= 1, "encoder_layers", "must be >= 1");
  require(decoder_layers >= 1, "decoder_layers", "must be >= 1");
  for (auto [name, p] : {std::pair<const char*, double>{"dropout", dropout},
                         {"attention_dropout", attention_dropout},
                         {"activation_dropout", activation_dropout}})
    require(p >= 0 && p < 1, name, "must be in [0, 1)");
  require(max_source_positions >= 1, "max_source_positions", "must be >= 1");
  require(max_target_positions >= 1, "max_target_positions", "must be >= 1");
  require(chunk_size >= 0, "chunk_size", "must be >= 0 (0 = full attention)");
  require(alignment_layer >= -decoder_layers && alignment_layer < decoder_layers, "alignment_layer",
          std::to_string(alignment_layer) + " is outside -" + std::to_string(decoder_layers) + ".." +
              std::to_string(decoder_layers - 1) + " (decoder_layers " + std::to_string(decoder_layers) + ")");
  require(alignment_heads >= 1 && alignment_heads <= attention_heads, "alignment_heads",
          std::to_string(alignment_heads) + " is outside 1.." + std::to_string(attention_heads) + " (attention_heads)");
  for (auto [name, id] : {std::pair<const char*, int64_t>{"pad_id", pad_id}, {"bos_id", bos_id}, {"eos_id", eos_id}})
    require(id >= 0 && id < vocab_size, name,
            std::to_string(id) + " is outside the vocabulary (vocab_size " + std::to_string(vocab_size) + ")");
  require(vocab_size >= 1, "vocab_size", "must be >= 1");
  for (auto [name, on] : {std::pair<const char*, bool>{"source_bos", source_bos}, {"target_bos", target_bos}})
    require(!on || bos_id != eos_id, name,
            "true needs a BOS token distinct from EOS (bos_id and eos_id are both " + std::to_string(eos_id) + ")");
  require(is_pooler_type(pooling.type), "pooling.type", unknown_pooler_type_message(pooling.type));
  require(pooling.base > 1, "pooling.base", "must be > 1");
  for (const auto& [layer, width] : pooling.schedule) {
    require(layer >= 0 && layer < encoder_layers, "pooling.schedule",
            "layer index " + std::to_string(layer) + " is outside 0.." + std::to_string(encoder_layers - 1));
    require(width >= 1, "pooling.schedule", "width for layer " + std::to_string(layer) + " must be >= 1");
  }
}

TransformerLayerOptions ModelConfig::layer_options() const {
  TransformerLayerOptions o;
  o.dim = d_model;
  o.heads = attention_heads;
  o.ffn_dim = ffn_dim;
  o.dropout = dropout;
  o.attention_dropout = attention_dropout;
  o.activation_dropout = activation_dropout;
  o.activation = activation;
  o.normalize_before = normalize_before;
  o.attention_backend = attention_backend;
  return o;
}

TransformerLayerOptions ModelConfig::decoder_layer_options() const {
  TransformerLayerOptions o = layer_options();
  o.ffn_dim = resolved_decoder_ffn_dim();
  return o;
}

TopKOptions ModelConfig::topk_options() const {
  TopKOptions o;
  o.base = pooling.base;
  o.flip_right = pooling.flip_right;
  o.sort_back = pooling.sort_back;
  o.hard = false;
  return o;
}

std::vector<int64_t> ModelConfig::encoder_lengths(int64_t source_length) const {
  std::vector<int64_t> lengths;
  int64_t length = source_length;
  for (int64_t layer = 0; layer < encoder_layers; ++layer) {
    auto it = pooling.schedule.find(layer);
    if (it != pooling.schedule.end()) length = std::min(length, it->second);
    lengths.push_back(length);
  }
  return lengths;
}

void apply_override(ModelConfig& config, const std::string& assignment) {
  YAML::Node document = config.to_yaml();
  const std::string scoped =
      assignment.rfind("model.", 0) == 0 ? assignment : "model." + assignment;  // model keys only
  apply_yaml_override(document, canonical_model_override(scoped));
  config = ModelConfig::from_yaml(document, "--set " + assignment);
}

void normalize_pooling_section(YAML::Node& document) {
  if (!document.IsMap() || !document["model"] || !document["model"].IsMap()) return;
  YAML::Node model = document["model"];
  if (!model["pooling"]) return;
  const YAML::Node pooling = model["pooling"];
  bool legacy = pooling.IsNull() || pooling.IsMap();
  if (pooling.IsMap())
    for (const auto& item : pooling) legacy = legacy && is_integer_key(item.first);
  if (!legacy) return;
  YAML::Node schedule = pooling.IsNull() ? YAML::Node(YAML::NodeType::Map) : YAML::Clone(pooling);
  YAML::Node section(YAML::NodeType::Map);
  section["schedule"] = schedule;
  model["pooling"] = section;
}

std::string canonical_model_override(const std::string& scoped) {
  static const std::string prefix = "model.pooling";
  if (scoped.rfind(prefix, 0) != 0 || scoped.size() == prefix.size()) return scoped;
  const std::string rest = scoped.substr(prefix.size());  // ".0=128", "={0: 256}", ".sort_back=false"
  if (rest[0] == '.') {
    const auto end = rest.find_first_of(".=", 1);
    YAML::Node key(rest.substr(1, end == std::string::npos ? std::string::npos : end - 1));
    return is_integer_key(key) ? prefix + ".schedule" + rest : scoped;
  }
  if (rest[0] != '=') return scoped;
  YAML::Node value;
  try {
    value = YAML::Load(rest.substr(1));
  } catch (const YAML::Exception&) {
    return scoped;  // the override itself reports the bad YAML
  }
  bool schedule = value.IsMap() || value.IsNull();
  if (value.IsMap())
    for (const auto& item : value) schedule = schedule && is_integer_key(item.first);
  return schedule ? prefix + ".schedule" + rest : scoped;
}

void check_vocabulary(const ModelConfig& config, int64_t tokenizer_vocab_size, const std::string& path) {
  if (tokenizer_vocab_size != config.vocab_size)
    throw std::runtime_error(path + ": the tokenizer has " + std::to_string(tokenizer_vocab_size) +
                             " pieces but the model's vocab_size is " + std::to_string(config.vocab_size));
}

void check_special_ids(const ModelConfig& config, int64_t tokenizer_pad, int64_t tokenizer_bos, int64_t tokenizer_eos,
                       const std::string& path) {
  const int64_t bos = tokenizer_bos >= 0 ? tokenizer_bos : tokenizer_eos;
  if (config.pad_id != tokenizer_pad || config.bos_id != bos || config.eos_id != tokenizer_eos)
    throw std::runtime_error(path + ": the model's special ids (pad " + std::to_string(config.pad_id) + ", bos " +
                             std::to_string(config.bos_id) + ", eos " + std::to_string(config.eos_id) +
                             ") are not its tokenizer's (pad " + std::to_string(tokenizer_pad) + ", bos " +
                             std::to_string(bos) + ", eos " + std::to_string(tokenizer_eos) + ")");
}

}  // namespace pyramidion

#include "pyramidion/models/hf_import.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/byte_level_bpe.h"
#include "pyramidion/data/pegasus_tokenizer.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/models/hf_checkpoint.h"
#include "pyramidion/models/hf_config.h"
#include "pyramidion/nn/sinusoidal_positions.h"
#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/safetensors.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

std::string shape_text(torch::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// BartModel checkpoints name "shared.weight", "encoder.*", "decoder.*" without the "model." prefix.
std::string canonical_hf_name(const std::string& name) {
  for (const char* bare : {"shared.", "encoder.", "decoder."})
    if (starts_with(name, bare)) return "model." + name;
  return name;
}

// The computed PEGASUS position table (max_positions, dim), as PegasusSinusoidalPositionalEmbedding holds it.
torch::Tensor pegasus_table(int64_t max_positions, int64_t dim) {
  return pegasus_sinusoidal_embeddings(torch::arange(max_positions, torch::kLong), dim, torch::kFloat);
}

}  // namespace

std::string hf_weight_name(const std::string& name) {
  static const std::map<std::string, std::string> whole = {{"embed_tokens.weight", "model.shared.weight"},
                                                           {"output_projection.weight", "lm_head.weight"},
                                                           {"output_bias", "final_logits_bias"}};
  if (auto it = whole.find(name); it != whole.end()) return it->second;
  static const std::vector<std::pair<std::string, std::string>> prefixes = {
      {"encoder_positions.", "model.encoder.embed_positions."},
      {"decoder_positions.", "model.decoder.embed_positions."},
      {"encoder_embedding_norm.", "model.encoder.layernorm_embedding."},
      {"decoder_embedding_norm.", "model.decoder.layernorm_embedding."},
      {"encoder_final_norm.", "model.encoder.layer_norm."},
      {"decoder_final_norm.", "model.decoder.layer_norm."}};
  for (const auto& [ours, theirs] : prefixes)
    if (starts_with(name, ours)) return theirs + name.substr(ours.size());
  for (const auto& [ours, theirs] : std::vector<std::pair<std::string, std::string>>{
           {"encoder_layers.", "model.encoder.layers."}, {"decoder_layers.", "model.decoder.layers."}}) {
    if (!starts_with(name, ours)) continue;
    const auto dot = name.find('.', ours.size());
    if (dot == std::string::npos) break;
    const std::string index = name.substr(ours.size(), dot - ours.size() + 1);  // "3."
    const std::string rest = name.substr(dot + 1);
    // Longest first: self_attn_norm before self_attn, ffn_norm before ffn.
    static const std::vector<std::pair<std::string, std::string>> modules = {
        {"self_attn.attention.", "self_attn."},
        {"self_attn_norm.", "self_attn_layer_norm."},
        {"self_attn.", "self_attn."},
        {"cross_attn_norm.", "encoder_attn_layer_norm."},
        {"cross_attn.", "encoder_attn."},
        {"ffn_norm.", "final_layer_norm."},
        {"ffn.", ""}};
    for (const auto& [m, hf] : modules)
      if (starts_with(rest, m)) return theirs + index + hf + rest.substr(m.size());
    break;
  }
  throw std::logic_error("hf_weight_name: " + name + " has no Hugging Face counterpart");
}

SummarizationModel model_from_hf_tensors(const ModelConfig& config, const NamedTensors& tensors,
                                         const std::string& origin) {
  auto fail = [&](const std::string& what) -> void { throw std::runtime_error(origin + ": " + what); };
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [raw, tensor] : tensors) {
    const std::string name = canonical_hf_name(raw);
    if (!by_name.emplace(name, tensor).second) fail(name + " appears twice (with and without the model. prefix)");
    if (!tensor.is_floating_point())
      fail(name + " is not a floating-point tensor (" + c10::toString(tensor.scalar_type()) + ")");
  }
  torch::manual_seed(0);  // the initial values are all overwritten; seeded so that a failure is reproducible
  SummarizationModel model(config);
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  const std::string shared = "model.shared.weight";
  if (!by_name.count(shared))  // some exports keep only the encoder's copy
    for (const char* copy : {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"})
      if (by_name.count(copy)) {
        by_name[shared] = by_name[copy];
        used.insert(copy);
        break;
      }
  for (auto& parameter : model->named_parameters()) {
    const std::string hf = hf_weight_name(parameter.key());
    torch::Tensor target = parameter.value();
    auto it = by_name.find(hf);
    if (it == by_name.end()) {
      if (hf == "final_logits_bias") {  // BartModel checkpoints have none: HF starts it at zero too
        target.zero_();
        continue;
      }
      fail("missing " + hf + " (expected shape " + shape_text(target.sizes()) + " from the config)");
    }
    torch::Tensor value = it->second;
    if (hf == "final_logits_bias" && value.dim() == 2 && value.size(0) == 1) value = value.squeeze(0);
    if (value.sizes() != target.sizes())
      fail(hf + " has shape " + shape_text(it->second.sizes()) + ", the config implies " + shape_text(target.sizes()));
    target.copy_(value.to(torch::kFloat));
    used.insert(it->first);
  }
  // The rest must be copies of what was loaded (tied embeddings, computed positions): anything else would be
  // dropped, and the model silently wrong.
  const torch::Tensor embeddings = by_name.at(shared).to(torch::kFloat);
  for (const auto& [name, tensor] : by_name) {
    if (used.count(name)) continue;
    const bool embedding_copy = name == "model.encoder.embed_tokens.weight" ||
                                name == "model.decoder.embed_tokens.weight" ||
                                (name == "lm_head.weight" && config.tie_output_projection);
    if (embedding_copy) {
      if (!torch::equal(tensor.to(torch::kFloat), embeddings))
        fail(name + " differs from " + shared + " (untied embeddings are not supported; tie_word_embeddings " +
             (config.tie_output_projection ? "true" : "false") + ")");
      continue;
    }
    const bool computed_positions =
        config.position_embeddings == PositionEmbeddings::pegasus_sinusoidal &&
        (name == "model.encoder.embed_positions.weight" || name == "model.decoder.embed_positions.weight");
    if (computed_positions) {
      const int64_t rows = tensor.dim() == 2 ? tensor.size(0) : 0;
      if (tensor.dim() != 2 || tensor.size(1) != config.d_model ||
          !torch::allclose(tensor.to(torch::kFloat), pegasus_table(rows, config.d_model), 0.0, 1e-5))
        fail(name + " is not the PEGASUS sinusoidal table (shape " + shape_text(tensor.sizes()) + ")");
      continue;
    }
    fail("unexpected " + name + " (not part of the configured architecture)");
  }
  model->eval();
  return model;
}

ImportedModel import_hf_checkpoint(const std::string& dir) {
  const HfCheckpointFiles files = find_hf_checkpoint_files(dir);
  const std::string text = read_file_bytes(files.config);
  if (!json_depth_ok(text)) throw std::runtime_error(files.config + ": " + json_depth_message());
  nlohmann::json config_json;
  try {
    config_json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(files.config + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  const ModelConfig config = hf_model_config(config_json, files.config);
  ImportedModel out;
  out.architecture = config_json["model_type"].get<std::string>();
  out.model = model_from_hf_tensors(config, read_checkpoint_tensors(files.weights), files.weights);
  if (!files.sentencepiece.empty()) {
    const std::string spiece = read_file_bytes(files.sentencepiece);
    const data::Tokenizer tokenizer =
        data::Tokenizer::from_hf_sentencepiece(spiece, files.sentencepiece, out.architecture, config.vocab_size,
                                               (fs::path(dir) / "tokenizer_config.json").string());
    out.tokenizer_kind = tokenizer.kind();
    out.tokenizer_bytes = tokenizer.is_sentencepiece() ? spiece : tokenizer.serialized();  // spiece.model as it is
  } else if (!files.tokenizer_json.empty() || (!files.vocab_json.empty() && !files.merges_txt.empty())) {
    out.tokenizer_kind = "byte_level_bpe";  // BART: tokenizer.json when present (the fast tokenizer's), else the pair
    try {
      const data::ByteLevelBpeTokenizer tokenizer =
          !files.tokenizer_json.empty() ? data::ByteLevelBpeTokenizer::from_tokenizer_json(files.tokenizer_json)
                                        : data::ByteLevelBpeTokenizer::from_files(files.vocab_json, files.merges_txt);
      out.tokenizer_bytes = tokenizer.serialized();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("the byte-level BPE tokenizer: ") + e.what());
    }
  }
  out.metadata = {{"imported_from",
                   {{"format", "hf"},
                    {"architecture", out.architecture},
                    {"path", fs::absolute(dir).lexically_normal().string()},
                    {"weights", fs::path(files.weights).filename().string()},
                    {"tokenizer_kind", out.tokenizer_kind}}}};
  return out;
}

NamedTensors hf_tensors_of(SummarizationModelImpl& model) {
  const ModelConfig& c = model.config();
  hf_architecture_of(c);  // throws for a model HF cannot represent
  NamedTensors out;
  for (const auto& parameter : model.named_parameters()) {
    torch::Tensor value = parameter.value().detach().to(torch::kCPU).contiguous();
    if (parameter.key() == "output_bias") value = value.unsqueeze(0);  // final_logits_bias (1, vocab)
    out.emplace_back(hf_weight_name(parameter.key()), value);
  }
  if (!c.output_bias) out.emplace_back("final_logits_bias", torch::zeros({1, c.vocab_size}));
  if (c.position_embeddings == PositionEmbeddings::pegasus_sinusoidal)
    for (const char* stack : {"encoder", "decoder"})
      out.emplace_back(std::string("model.") + stack + ".embed_positions.weight",
                       pegasus_table(c.max_source_positions, c.d_model));
  return out;
}

void export_hf_checkpoint(SummarizationModelImpl& model, const std::string& dir,
                          const std::string& sentencepiece_bytes) {
  if (model.is_int8()) throw std::runtime_error(dir + ": an int8 model cannot be exported (export the float model)");
  const nlohmann::json config = hf_config_json(model.config());
  const NamedTensors tensors = hf_tensors_of(model);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw std::runtime_error(dir + ": cannot create the folder (" + error.message() + ")");
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  write_file_atomically((fs::path(dir) / "config.json").string(), config.dump(2) + "\n");
  if (data::ByteLevelBpeTokenizer::is_serialized_form(sentencepiece_bytes)) {
    // BART's slow-tokenizer pair, from the embedded form (pieces by id, merges by rank).
    const nlohmann::json bpe = nlohmann::json::parse(sentencepiece_bytes);
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    const auto& pieces = bpe.at("pieces");
    for (size_t id = 0; id < pieces.size(); ++id)
      if (pieces[id].is_string()) vocab[pieces[id].get<std::string>()] = id;
    std::string merges = "#version: 0.2\n";
    for (const auto& merge : bpe.at("merges")) merges += merge.get<std::string>() + "\n";
    write_file_atomically((fs::path(dir) / "vocab.json").string(), vocab.dump() + "\n");
    write_file_atomically((fs::path(dir) / "merges.txt").string(), merges);
  } else if (data::PegasusTokenizer::is_serialized_form(sentencepiece_bytes)) {
    // spiece.model exactly as it was imported; the offset in tokenizer_config.json when it is not the default.
    const data::PegasusTokenizer pegasus = data::PegasusTokenizer::from_bytes(sentencepiece_bytes);
    write_file_atomically((fs::path(dir) / "spiece.model").string(), pegasus.sentencepiece_model());
    if (pegasus.offset() != data::PegasusTokenizer::kDefaultOffset)
      write_file_atomically((fs::path(dir) / "tokenizer_config.json").string(),
                            nlohmann::json{{"offset", pegasus.offset()}}.dump(2) + "\n");
  } else if (!sentencepiece_bytes.empty()) {
    write_file_atomically((fs::path(dir) / "spiece.model").string(), sentencepiece_bytes);
  }
}

}  // namespace pyramidion

// The byte-level BPE tokenizer's file formats: HF's vocab.json + merges.txt and tokenizer.json, and the
// serialized form a model file embeds.
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "byte_level_bpe_model.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion::data {

namespace {

using nlohmann::json;
constexpr const char* kSerializedType = "byte_level_bpe";
constexpr const char* kSerializedPrefix = "{\"type\":\"byte_level_bpe\"";
constexpr int kSerializedVersion = 1;

json parse_json(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto bracket = what.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    throw std::runtime_error(origin +
                             ": invalid JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

const json& member(const json& object, const char* key, const std::string& origin, const std::string& where) {
  if (!object.is_object() || !object.contains(key))
    throw std::runtime_error(origin + ": " + where + " has no \"" + key + "\"");
  return object[key];
}

bool flag(const json& object, const char* key, bool fallback, const std::string& origin, const std::string& where) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_boolean()) throw std::runtime_error(origin + ": " + where + "." + key + " is not true or false");
  return object[key].get<bool>();
}

int64_t id_value(const json& value, const std::string& origin, const std::string& where) {
  if (!value.is_number_integer())
    throw std::runtime_error(origin + ": " + where + " is " + value.dump() + ", not an integer id");
  return value.get<int64_t>();
}

// {"piece": id, ...}: vocab.json, or tokenizer.json's model.vocab.
void add_vocab(ByteLevelBpeLoader& loader, const json& vocab, const std::string& where) {
  if (!vocab.is_object()) throw std::runtime_error(loader.origin + ": " + where + " is not a JSON object");
  for (const auto& [piece, id] : vocab.items())
    loader.add_piece(piece, id_value(id, loader.origin, where + "[\"" + piece + "\"]"), where + "[\"" + piece + "\"]");
}

// "left right" (merges.txt lines, older tokenizer.json) or ["left", "right"] (newer tokenizer.json).
void add_merge_text(ByteLevelBpeLoader& loader, const std::string& text, const std::string& where) {
  auto space = text.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == text.size() ||
      text.find(' ', space + 1) != std::string::npos)
    throw std::runtime_error(loader.origin + ": " + where + ": \"" + text +
                             "\" is not two pieces separated by a space");
  loader.add_merge(text.substr(0, space), text.substr(space + 1), where);
}

void add_merges(ByteLevelBpeLoader& loader, const json& merges, const std::string& where) {
  if (!merges.is_array()) throw std::runtime_error(loader.origin + ": " + where + " is not a JSON array");
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (merge.is_string()) {
      add_merge_text(loader, merge.get<std::string>(), at);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      loader.add_merge(merge[0].get<std::string>(), merge[1].get<std::string>(), at);
    } else {
      throw std::runtime_error(loader.origin + ": " + at + " is " + merge.dump() + ", not \"a b\" or [\"a\", \"b\"]");
    }
  }
}

std::string type_of(const json& component) {
  if (component.is_object() && component.contains("type") && component["type"].is_string())
    return component["type"].get<std::string>();
  return component.dump();
}

// tokenizer.json's pre_tokenizer: ByteLevel with GPT-2's regex, alone or as the only step of a Sequence.
const json& byte_level_pre_tokenizer(const json& tokenizer, const std::string& origin) {
  const json& pre = member(tokenizer, "pre_tokenizer", origin, "the tokenizer");
  const json* step = &pre;
  if (type_of(pre) == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array() &&
      pre["pretokenizers"].size() == 1)
    step = &pre["pretokenizers"][0];
  if (type_of(*step) != "ByteLevel")
    throw std::runtime_error(origin + ": unsupported pre-tokenizer " + type_of(pre) +
                             " (the byte-level BPE tokenizer needs ByteLevel, as BART, RoBERTa and GPT-2 have)");
  if (!flag(*step, "use_regex", true, origin, "pre_tokenizer"))
    throw std::runtime_error(origin +
                             ": unsupported pre-tokenizer ByteLevel with use_regex false (only GPT-2's "
                             "regex split is implemented)");
  return *step;
}

void check_supported_model(const json& model, const std::string& origin) {
  if (model.contains("type") && type_of(model) != "BPE")
    throw std::runtime_error(origin + ": unsupported tokenizer model type " + type_of(model) +
                             " (the byte-level BPE tokenizer reads BPE models: BART, RoBERTa, GPT-2)");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(affix) && !model[affix].is_null() && model[affix] != "")
      throw std::runtime_error(origin + ": unsupported BPE model option " + affix + " = " + model[affix].dump());
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
    throw std::runtime_error(origin + ": unsupported BPE model option dropout = " + model["dropout"].dump() +
                             " (a training-time option)");
}

}  // namespace

ByteLevelBpeTokenizer ByteLevelBpeTokenizer::from_files(const std::string& vocab_json_path,
                                                        const std::string& merges_txt_path) {
  ByteLevelBpeLoader loader(vocab_json_path);
  add_vocab(loader, parse_json(read_file_bytes(vocab_json_path), vocab_json_path), "the vocabulary");
  loader.origin = merges_txt_path;
  const std::string merges = read_file_bytes(merges_txt_path);
  size_t line_number = 0;
  for (size_t start = 0; start < merges.size();) {
    size_t end = merges.find('\n', start);
    if (end == std::string::npos) end = merges.size();
    std::string line = merges.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    add_merge_text(loader, line, "line " + std::to_string(line_number));
  }
  loader.origin = vocab_json_path;
  loader.add_conventional_special_tokens();
  loader.find_special_ids();
  return loader.finish();
}

ByteLevelBpeTokenizer ByteLevelBpeTokenizer::from_tokenizer_json(const std::string& path) {
  const json tokenizer = parse_json(read_file_bytes(path), path);
  if (!tokenizer.is_object()) throw std::runtime_error(path + ": not a JSON object");
  const json& model = member(tokenizer, "model", path, "the tokenizer");
  check_supported_model(model, path);
  const json& pre = byte_level_pre_tokenizer(tokenizer, path);
  if (tokenizer.contains("normalizer") && !tokenizer["normalizer"].is_null())
    throw std::runtime_error(path + ": unsupported normalizer " + type_of(tokenizer["normalizer"]) +
                             " (BART, RoBERTa and GPT-2 have none)");
  if (tokenizer.contains("decoder") && !tokenizer["decoder"].is_null() && type_of(tokenizer["decoder"]) != "ByteLevel")
    throw std::runtime_error(path + ": unsupported decoder " + type_of(tokenizer["decoder"]) + " (expected ByteLevel)");

  ByteLevelBpeLoader loader(path);
  add_vocab(loader, member(model, "vocab", path, "model"), "model.vocab");
  add_merges(loader, member(model, "merges", path, "model"), "model.merges");
  if (tokenizer.contains("added_tokens") && !tokenizer["added_tokens"].is_null()) {
    const json& added = tokenizer["added_tokens"];
    if (!added.is_array()) throw std::runtime_error(path + ": added_tokens is not a JSON array");
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const json& token = added[i];
      const json& content = member(token, "content", path, where);
      if (!content.is_string() || content.get<std::string>().empty())
        throw std::runtime_error(path + ": " + where + ".content is not a non-empty string");
      if (flag(token, "single_word", false, path, where))
        throw std::runtime_error(path + ": " + where + ": unsupported added token option single_word (" +
                                 content.dump() + ")");
      loader.add_token(content.get<std::string>(), id_value(member(token, "id", path, where), path, where + ".id"),
                       flag(token, "lstrip", false, path, where), flag(token, "rstrip", false, path, where), where);
    }
  }
  loader.model->add_prefix_space = flag(pre, "add_prefix_space", false, path, "pre_tokenizer");
  loader.model->ignore_merges = flag(model, "ignore_merges", false, path, "model");
  std::string unk_piece;
  if (model.contains("unk_token") && model["unk_token"].is_string()) unk_piece = model["unk_token"].get<std::string>();
  loader.find_special_ids(unk_piece);
  return loader.finish();
}

bool ByteLevelBpeTokenizer::is_serialized_form(const std::string& bytes) {
  return bytes.rfind(kSerializedPrefix, 0) == 0;
}

std::string ByteLevelBpeTokenizer::serialized() const {
  const Model& m = *model_;
  // ordered_json: "type" first, so is_serialized_form can tell this from other tokenizers by its first bytes.
  nlohmann::ordered_json out;
  out["type"] = kSerializedType;
  out["version"] = kSerializedVersion;
  nlohmann::ordered_json pieces = nlohmann::ordered_json::array();
  for (const auto& piece : m.pieces) {
    if (piece.empty())
      pieces.push_back(nullptr);  // an id without a piece
    else
      pieces.push_back(piece);
  }
  out["pieces"] = std::move(pieces);
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  for (auto [left, right] : m.merge_pairs) merges.push_back(m.pieces[left] + " " + m.pieces[right]);
  out["merges"] = std::move(merges);
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (const auto& token : m.added)
    added.push_back({{"id", token.id}, {"content", token.content}, {"lstrip", token.lstrip}, {"rstrip", token.rstrip}});
  out["added_tokens"] = std::move(added);
  out["add_prefix_space"] = m.add_prefix_space;
  out["ignore_merges"] = m.ignore_merges;
  out["special_ids"] = {{"pad", m.pad}, {"bos", m.bos}, {"eos", m.eos}, {"unk", m.unk}};
  return out.dump();
}

ByteLevelBpeTokenizer ByteLevelBpeTokenizer::from_bytes(const std::string& bytes) {
  const std::string origin = "serialized byte-level BPE tokenizer";
  if (!is_serialized_form(bytes))
    throw std::runtime_error(origin + ": does not start with " + kSerializedPrefix + " (not this tokenizer's bytes)");
  const json in = parse_json(bytes, origin);
  const json& version = member(in, "version", origin, "the object");
  if (version != kSerializedVersion)
    throw std::runtime_error(origin + ": unsupported version " + version.dump() + " (this build reads version " +
                             std::to_string(kSerializedVersion) + ")");
  ByteLevelBpeLoader loader(origin);
  const json& pieces = member(in, "pieces", origin, "the object");
  if (!pieces.is_array()) throw std::runtime_error(origin + ": pieces is not a JSON array");
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (pieces[id].is_null()) continue;
    if (!pieces[id].is_string())
      throw std::runtime_error(origin + ": pieces[" + std::to_string(id) + "] is not a string");
    loader.add_piece(pieces[id].get<std::string>(), static_cast<int64_t>(id), "pieces[" + std::to_string(id) + "]");
  }
  // Trailing ids without pieces still count in vocab_size().
  if (pieces.size() > loader.model->pieces.size()) loader.model->pieces.resize(pieces.size());
  add_merges(loader, member(in, "merges", origin, "the object"), "merges");
  const json& added = member(in, "added_tokens", origin, "the object");
  if (!added.is_array()) throw std::runtime_error(origin + ": added_tokens is not a JSON array");
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    const json& content = member(added[i], "content", origin, where);
    if (!content.is_string()) throw std::runtime_error(origin + ": " + where + ".content is not a string");
    loader.add_token(content.get<std::string>(), id_value(member(added[i], "id", origin, where), origin, where + ".id"),
                     flag(added[i], "lstrip", false, origin, where), flag(added[i], "rstrip", false, origin, where),
                     where);
  }
  loader.model->add_prefix_space = flag(in, "add_prefix_space", false, origin, "the object");
  loader.model->ignore_merges = flag(in, "ignore_merges", false, origin, "the object");
  const json& special = member(in, "special_ids", origin, "the object");
  auto special_id = [&](const char* name) {
    int64_t id = id_value(member(special, name, origin, "special_ids"), origin, std::string("special_ids.") + name);
    if (id < -1 || id >= static_cast<int64_t>(loader.model->pieces.size()))
      throw std::runtime_error(origin + ": special_ids." + name + " = " + std::to_string(id) +
                               " is outside the vocabulary");
    return id;
  };
  loader.model->pad = special_id("pad");
  loader.model->bos = special_id("bos");
  loader.model->eos = special_id("eos");
  loader.model->unk = special_id("unk");
  return loader.finish();
}

}  // namespace pyramidion::data

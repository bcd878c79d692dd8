// PEGASUS's tokenizer (pegasus_tokenizer.h): HF's PegasusTokenizer numbering over a SentencePieceTokenizer, and the
// serialized form a model file embeds (a one-line JSON header, then the spiece.model bytes unchanged).
#include "pyramidion/data/pegasus_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "pyramidion/data/tokenizer.h"
#include "pyramidion/util/text_predicates.h"
#include "sentence_join.h"

namespace pyramidion::data {

namespace {

constexpr const char* kSerializedType = "pegasus_sentencepiece";
constexpr const char* kSerializedPrefix = "{\"type\":\"pegasus_sentencepiece\"";
constexpr int kSerializedVersion = 1;
constexpr const char* kOrigin = "serialized PEGASUS tokenizer";

// PegasusTokenizer's defaults: <pad> </s> <mask_1> <mask_2> <unk_2> ... <unk_{offset-1}> at ids 0 .. offset + 1.
std::vector<std::string> default_added_tokens(int64_t offset) {
  std::vector<std::string> tokens = {"<pad>", "</s>", "<mask_1>", "<mask_2>"};
  for (int64_t i = 2; i < offset; ++i) tokens.push_back("<unk_" + std::to_string(i) + ">");
  return tokens;
}

}  // namespace

struct PegasusTokenizer::State {
  std::string model_bytes;  // spiece.model as given
  SentencePieceTokenizer spm;
  int64_t offset = 0;
  std::vector<std::string> added;                     // by id
  std::map<std::string, int64_t, std::less<>> match;  // whole strings matched in text: the added tokens and <unk>
  std::string unk_text;                               // <unk>'s text, written by decode
  size_t longest = 0;                                 // the longest string in `match`
  std::array<bool, 256> starts{};                     // the first bytes of those strings
};

PegasusTokenizer::PegasusTokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {
  const State& s = *state_;
  unk_id_ = s.spm.unk_id() >= 0 ? s.spm.unk_id() + s.offset : -1;
  for (const char* separator : {"<n>", "<sep>"}) {
    const int64_t id = s.spm.piece_to_id(separator);
    if (id != s.spm.unk_id() && id + s.offset >= static_cast<int64_t>(s.added.size())) {
      sep_id_ = id + s.offset;
      break;
    }
  }
}

namespace {

std::shared_ptr<PegasusTokenizer::State> make_state(const std::string& model_bytes, int64_t offset,
                                                    std::vector<std::string> added, const std::string& origin) {
  if (offset < 4)
    throw std::runtime_error(origin + ": offset " + std::to_string(offset) +
                             " is below 4 (pad, eos and the two mask tokens come first)");
  if (added.size() < 2) throw std::runtime_error(origin + ": added_tokens needs at least <pad> and </s>");
  auto state = std::make_shared<PegasusTokenizer::State>(
      PegasusTokenizer::State{model_bytes, SentencePieceTokenizer::from_bytes(model_bytes), offset, {}, {}, {}, 0, {}});
  if (static_cast<int64_t>(added.size()) > offset + state->spm.vocab_size())
    throw std::runtime_error(origin + ": " + std::to_string(added.size()) + " added tokens for a vocabulary of " +
                             std::to_string(offset + state->spm.vocab_size()));
  state->added = std::move(added);
  for (size_t id = 0; id < state->added.size(); ++id) {
    if (state->added[id].empty())
      throw std::runtime_error(origin + ": added_tokens[" + std::to_string(id) + "] is empty");
    state->match.emplace(state->added[id], static_cast<int64_t>(id));  // the first id of a repeated text wins
  }
  if (state->spm.unk_id() >= 0) {
    state->unk_text = state->spm.id_to_piece(state->spm.unk_id());
    state->match.emplace(state->unk_text, state->spm.unk_id() + offset);
  }
  for (const auto& [text, id] : state->match) {
    state->longest = std::max(state->longest, text.size());
    state->starts[static_cast<unsigned char>(text[0])] = true;
  }
  return state;
}

}  // namespace

PegasusTokenizer PegasusTokenizer::from_sentencepiece(const std::string& spiece_model, int64_t offset) {
  if (offset < 4)
    throw std::invalid_argument("PEGASUS tokenizer: offset " + std::to_string(offset) +
                                " is below 4 (pad, eos and the two mask tokens come first)");
  return PegasusTokenizer(make_state(spiece_model, offset, default_added_tokens(offset), "spiece.model"));
}

bool PegasusTokenizer::is_serialized_form(const std::string& bytes) { return bytes.rfind(kSerializedPrefix, 0) == 0; }

std::string PegasusTokenizer::serialized() const {
  const State& s = *state_;
  nlohmann::ordered_json header;  // "type" first: is_serialized_form reads the first bytes
  header["type"] = kSerializedType;
  header["version"] = kSerializedVersion;
  header["offset"] = s.offset;
  header["added_tokens"] = s.added;
  header["model_size"] = s.model_bytes.size();
  return header.dump() + "\n" + s.model_bytes;  // dump() escapes newlines: the header is one line
}

PegasusTokenizer PegasusTokenizer::from_bytes(const std::string& bytes) {
  if (!is_serialized_form(bytes))
    throw std::runtime_error(std::string(kOrigin) + ": does not start with " + kSerializedPrefix +
                             " (not this tokenizer's bytes)");
  const size_t newline = bytes.find('\n');
  if (newline == std::string::npos) throw std::runtime_error(std::string(kOrigin) + ": no end to its header line");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(0, newline));
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error(std::string(kOrigin) + ": its header is not valid JSON");
  }
  auto member = [&](const char* key) -> const nlohmann::json& {
    if (!header.contains(key)) throw std::runtime_error(std::string(kOrigin) + ": the header has no \"" + key + "\"");
    return header[key];
  };
  if (member("version") != kSerializedVersion)
    throw std::runtime_error(std::string(kOrigin) + ": unsupported version " + member("version").dump() +
                             " (this build reads version " + std::to_string(kSerializedVersion) + ")");
  if (!member("offset").is_number_integer())
    throw std::runtime_error(std::string(kOrigin) + ": offset is not an integer");
  if (!member("model_size").is_number_unsigned() || member("model_size").get<uint64_t>() != bytes.size() - newline - 1)
    throw std::runtime_error(std::string(kOrigin) + ": model_size " + member("model_size").dump() + " but " +
                             std::to_string(bytes.size() - newline - 1) + " bytes follow the header");
  std::vector<std::string> added;
  const auto& tokens = member("added_tokens");
  if (!tokens.is_array()) throw std::runtime_error(std::string(kOrigin) + ": added_tokens is not a JSON array");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_string())
      throw std::runtime_error(std::string(kOrigin) + ": added_tokens[" + std::to_string(i) + "] is not a string");
    added.push_back(tokens[i].get<std::string>());
  }
  return PegasusTokenizer(
      make_state(bytes.substr(newline + 1), member("offset").get<int64_t>(), std::move(added), kOrigin));
}

std::vector<int64_t> PegasusTokenizer::encode(const std::string& text) const {
  const State& s = *state_;
  std::vector<int64_t> ids;
  size_t start = 0;  // of the text not yet encoded
  bool after_token = false;
  auto encode_run = [&](size_t end) {
    size_t a = start, b = end;
    // Whitespace next to an added token is stripped (PreTrainedTokenizer.tokenize's default for special tokens).
    if (after_token)
      while (a < b && is_space(text[a])) ++a;
    if (b < text.size())
      while (b > a && is_space(text[b - 1])) --b;
    if (b > a)
      for (int64_t id : s.spm.encode(text.substr(a, b - a))) ids.push_back(id + s.offset);
  };
  size_t i = 0;
  while (i < text.size()) {
    // The longest whole string at i (HF's trie split).
    size_t length = 0;
    int64_t id = -1;
    const size_t longest = s.starts[static_cast<unsigned char>(text[i])] ? std::min(s.longest, text.size() - i) : 0;
    for (size_t n = longest; n > 0 && id < 0; --n) {
      auto it = s.match.find(std::string_view(text).substr(i, n));
      if (it != s.match.end()) {
        length = n;
        id = it->second;
      }
    }
    if (id < 0) {
      ++i;
      continue;
    }
    encode_run(i);
    ids.push_back(id);
    i += length;
    start = i;
    after_token = true;
  }
  if (start < text.size()) encode_run(text.size());
  return ids;
}

std::vector<int64_t> PegasusTokenizer::encode_sentences(const std::vector<std::string>& sentences) const {
  if (sep_id_ < 0) {
    std::string text;
    for (const auto& sentence : sentences) text += (text.empty() ? "" : " ") + sentence;
    return encode(text);
  }
  return encode_joined(sentences, sep_id_, [this](const std::string& sentence) { return encode(sentence); });
}

std::string PegasusTokenizer::decode(const std::vector<int64_t>& ids) const { return decode(ids.data(), ids.size()); }

std::string PegasusTokenizer::decode(const int64_t* ids, size_t count) const {
  const State& s = *state_;
  const int64_t vocab = vocab_size();
  const int64_t added = static_cast<int64_t>(s.added.size());
  std::string text;
  std::vector<int64_t> run;  // SentencePiece ids, decoded together
  auto flush = [&] {
    if (!run.empty()) text += s.spm.decode(run);
    run.clear();
  };
  for (size_t i = 0; i < count; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
    if (id == pad_id() || id == eos_id()) continue;
    if (id == sep_id_) {
      flush();
      text += '\n';
    } else if (id < added) {
      flush();
      text += s.added[static_cast<size_t>(id)];
    } else if (id == unk_id_) {
      flush();
      text += s.unk_text;
    } else {
      run.push_back(id - s.offset);
    }
  }
  flush();
  const size_t a = text.find_first_not_of(" \t\n\r\f\v");
  if (a == std::string::npos) return "";
  return text.substr(a, text.find_last_not_of(" \t\n\r\f\v") - a + 1);
}

std::vector<std::string> PegasusTokenizer::decode_sentences(const std::vector<int64_t>& ids) const {
  std::vector<std::string> sentences;
  const std::string text = decode(ids);
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    sentences.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return sentences;
}

int64_t PegasusTokenizer::vocab_size() const { return state_->spm.vocab_size() + state_->offset; }

std::string PegasusTokenizer::id_to_piece(int64_t id) const {
  const State& s = *state_;
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  if (id < static_cast<int64_t>(s.added.size())) return s.added[static_cast<size_t>(id)];
  return s.spm.id_to_piece(id - s.offset);
}

int64_t PegasusTokenizer::piece_to_id(const std::string& piece) const {
  const State& s = *state_;
  for (size_t id = 0; id < s.added.size(); ++id)
    if (s.added[id] == piece) return static_cast<int64_t>(id);
  const int64_t id = s.spm.piece_to_id(piece);
  return id == s.spm.unk_id() ? unk_id_ : id + s.offset;
}

int64_t PegasusTokenizer::offset() const { return state_->offset; }
const std::vector<std::string>& PegasusTokenizer::added_tokens() const { return state_->added; }
const std::string& PegasusTokenizer::sentencepiece_model() const { return state_->model_bytes; }
const SentencePieceTokenizer& PegasusTokenizer::sentencepiece() const { return state_->spm; }

}  // namespace pyramidion::data

#include "pyramidion/data/any_tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "pyramidion/util/atomic_file.h"
#include "pyramidion/util/json_depth.h"
#include "pyramidion/util/text_predicates.h"

namespace pyramidion::data {
namespace {

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file_bytes(path);
  if (!json_depth_ok(text)) throw std::runtime_error(path + ": " + json_depth_message());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

}  // namespace

Tokenizer::Tokenizer(SentencePieceTokenizer tokenizer)
    : spm_(std::make_shared<const SentencePieceTokenizer>(std::move(tokenizer))) {}

Tokenizer::Tokenizer(ByteLevelBpeTokenizer tokenizer)
    : bpe_(std::make_shared<const ByteLevelBpeTokenizer>(std::move(tokenizer))) {}

Tokenizer::Tokenizer(PegasusTokenizer tokenizer)
    : pegasus_(std::make_shared<const PegasusTokenizer>(std::move(tokenizer))) {}

Tokenizer Tokenizer::from_bytes(const std::string& bytes) {
  if (ByteLevelBpeTokenizer::is_serialized_form(bytes)) return Tokenizer(ByteLevelBpeTokenizer::from_bytes(bytes));
  if (PegasusTokenizer::is_serialized_form(bytes)) return Tokenizer(PegasusTokenizer::from_bytes(bytes));
  return Tokenizer(SentencePieceTokenizer::from_bytes(bytes));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path given(path);
  if (fs::is_directory(given, ec)) {  // a checkpoint folder: spiece.model, tokenizer.json, else the vocab.json pair
    if (fs::is_regular_file(given / "spiece.model", ec)) {
      const std::string spiece = (given / "spiece.model").string();
      const std::string config_path = (given / "config.json").string();
      std::string model_type;
      int64_t vocab_size = -1;
      if (fs::is_regular_file(config_path, ec)) {
        const nlohmann::json config = read_json(config_path);
        if (config.is_object() && config.contains("model_type") && config["model_type"].is_string())
          model_type = config["model_type"].get<std::string>();
        if (config.is_object() && config.contains("vocab_size") && config["vocab_size"].is_number_integer())
          vocab_size = config["vocab_size"].get<int64_t>();
      }
      return from_hf_sentencepiece(read_file_bytes(spiece), spiece, model_type, vocab_size,
                                   (given / "tokenizer_config.json").string());
    }
    if (fs::is_regular_file(given / "tokenizer.json", ec))
      return Tokenizer(ByteLevelBpeTokenizer::from_tokenizer_json((given / "tokenizer.json").string()));
    if (fs::is_regular_file(given / "vocab.json", ec)) return from_file((given / "vocab.json").string());
    throw std::runtime_error(path + ": a folder without tokenizer.json or vocab.json + merges.txt");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the tokenizer");
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || head[first] != '{')
    return Tokenizer(SentencePieceTokenizer::from_file(path));  // a SentencePiece model is a protobuf, not JSON
  std::ostringstream bytes;
  in.clear();
  in.seekg(0);
  bytes << in.rdbuf();
  const std::string text = bytes.str();
  if (ByteLevelBpeTokenizer::is_serialized_form(text) || PegasusTokenizer::is_serialized_form(text)) {
    try {
      return from_bytes(text);  // a dataset's or a model file's own form
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
  }
  // tokenizer.json has a "model" object; vocab.json maps pieces to ids and needs merges.txt beside it.
  if (!json_depth_ok(text)) throw std::runtime_error(path + ": " + json_depth_message());
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) throw std::runtime_error(path + ": not valid JSON (nor a SentencePiece model)");
  if (json.is_object() && json.contains("model") && json["model"].is_object())
    return Tokenizer(ByteLevelBpeTokenizer::from_tokenizer_json(path));
  const fs::path merges = given.parent_path() / "merges.txt";
  if (!fs::is_regular_file(merges, ec))
    throw std::runtime_error(path + ": a JSON file that is neither a tokenizer.json nor a vocab.json with " +
                             merges.string() + " beside it");
  return Tokenizer(ByteLevelBpeTokenizer::from_files(path, merges.string()));
}

Tokenizer Tokenizer::from_hf_sentencepiece(const std::string& spiece_bytes, const std::string& spiece_path,
                                           const std::string& model_type, int64_t vocab_size,
                                           const std::string& tokenizer_config_path) {
  int64_t pieces = 0;
  try {
    pieces = SentencePieceTokenizer::from_bytes(spiece_bytes).vocab_size();
  } catch (const std::exception& e) {
    throw std::runtime_error(spiece_path + ": " + e.what());
  }
  if (model_type == "pegasus") {
    // PegasusTokenizer's numbering (ids shifted by `offset`, special tokens below) when the vocabulary says so; a
    // spiece.model as large as the vocabulary (one made for pyramidion's numbering) is taken as it is.
    int64_t offset = PegasusTokenizer::kDefaultOffset;
    std::error_code ec;
    if (std::filesystem::is_regular_file(tokenizer_config_path, ec)) {
      const nlohmann::json j = read_json(tokenizer_config_path);
      if (j.is_object() && j.contains("offset") && !j["offset"].is_null()) {
        if (!j["offset"].is_number_integer() || j["offset"].get<int64_t>() < 4)
          throw std::runtime_error(tokenizer_config_path + ": offset: " + j["offset"].dump() +
                                   " is not an integer of at least 4");
        offset = j["offset"].get<int64_t>();
      }
    }
    if (pieces + offset == vocab_size) return Tokenizer(PegasusTokenizer::from_sentencepiece(spiece_bytes, offset));
  }
  return Tokenizer(SentencePieceTokenizer::from_bytes(spiece_bytes));
}

const char* Tokenizer::kind() const {
  return spm_ ? "sentencepiece" : pegasus_ ? "pegasus_sentencepiece" : "byte_level_bpe";
}

const SentencePieceTokenizer& Tokenizer::sentencepiece() const {
  if (!spm_) throw std::logic_error(std::string("the tokenizer is of kind ") + kind() + ", not a SentencePiece one");
  return *spm_;
}

const ByteLevelBpeTokenizer& Tokenizer::byte_level_bpe() const {
  if (!bpe_) throw std::logic_error(std::string("the tokenizer is of kind ") + kind() + ", not a byte-level BPE one");
  return *bpe_;
}

const PegasusTokenizer& Tokenizer::pegasus() const {
  if (!pegasus_) throw std::logic_error(std::string("the tokenizer is of kind ") + kind() + ", not a PEGASUS one");
  return *pegasus_;
}

#define PYRAMIDION_FORWARD(call) return spm_ ? spm_->call : pegasus_ ? pegasus_->call : bpe_->call

std::vector<int64_t> Tokenizer::encode(const std::string& text) const { PYRAMIDION_FORWARD(encode(text)); }
std::vector<int64_t> Tokenizer::encode_sentences(const std::vector<std::string>& sentences) const {
  PYRAMIDION_FORWARD(encode_sentences(sentences));
}
std::string Tokenizer::decode(const std::vector<int64_t>& ids) const { PYRAMIDION_FORWARD(decode(ids)); }
std::string Tokenizer::decode(const int64_t* ids, size_t count) const { PYRAMIDION_FORWARD(decode(ids, count)); }
std::vector<std::string> Tokenizer::decode_sentences(const std::vector<int64_t>& ids) const {
  PYRAMIDION_FORWARD(decode_sentences(ids));
}
int64_t Tokenizer::vocab_size() const { PYRAMIDION_FORWARD(vocab_size()); }
int64_t Tokenizer::pad_id() const { PYRAMIDION_FORWARD(pad_id()); }
int64_t Tokenizer::bos_id() const { PYRAMIDION_FORWARD(bos_id()); }
int64_t Tokenizer::eos_id() const { PYRAMIDION_FORWARD(eos_id()); }
int64_t Tokenizer::unk_id() const { PYRAMIDION_FORWARD(unk_id()); }
int64_t Tokenizer::sentence_separator_id() const { PYRAMIDION_FORWARD(sentence_separator_id()); }
std::string Tokenizer::id_to_piece(int64_t id) const { PYRAMIDION_FORWARD(id_to_piece(id)); }
int64_t Tokenizer::piece_to_id(const std::string& piece) const { PYRAMIDION_FORWARD(piece_to_id(piece)); }
std::string Tokenizer::serialized() const { PYRAMIDION_FORWARD(serialized()); }

#undef PYRAMIDION_FORWARD

void check_tokenizer_for_training(const Tokenizer& tokenizer, const std::string& origin) {
  auto missing = [&](const std::string& piece, const std::string& fix) {
    throw std::runtime_error(origin + ": the tokenizer has no " + piece + " piece, which training needs (" +
                             tokenizer.kind() + "; ids: unk " + std::to_string(tokenizer.unk_id()) + ", bos " +
                             std::to_string(tokenizer.bos_id()) + ", eos " + std::to_string(tokenizer.eos_id()) +
                             ", pad " + std::to_string(tokenizer.pad_id()) + "); " + fix);
  };
  const bool spm = tokenizer.is_sentencepiece();
  if (tokenizer.pad_id() < 0)
    missing("pad", spm ? "retrain it with `pyramidion tokenizer train`, or give spm_train --pad_id=N (e.g. "
                         "--pad_id=3 next to the defaults unk 0, bos 1, eos 2)"
                       : "add a <pad> token to its vocabulary");
  if (tokenizer.eos_id() < 0)
    missing("eos", spm ? "retrain it with `pyramidion tokenizer train`, or give spm_train --eos_id=N"
                       : "add a </s> token to its vocabulary");
}

Tokenizer::PieceRole Tokenizer::piece_role(int64_t id) const {
  if (id == pad_id() || id == bos_id() || id == eos_id()) return PieceRole::special;
  if (id == sentence_separator_id()) return PieceRole::line_break;
  if (bpe_) {
    // The piece's bytes (pieces are bytes written as printable characters: decode gives them back).
    const std::string text = bpe_->decode(&id, 1);
    if (text.empty()) return PieceRole::continues_word;
    bool blank = true, newline = false;
    for (char c : text) {
      blank = blank && is_space(c);
      newline = newline || c == '\n';
    }
    if (blank) return newline ? PieceRole::line_break : PieceRole::space;
    return is_space(text.front()) ? PieceRole::word_start : PieceRole::continues_word;
  }
  if (pegasus_ && id < static_cast<int64_t>(pegasus_->added_tokens().size()))
    return PieceRole::word_start;                        // <mask_1>, <unk_2>, ...: matched whole, a word of their own
  static const std::string kWordStart = "\xE2\x96\x81";  // U+2581, SentencePiece's word-boundary mark
  return id_to_piece(id).rfind(kWordStart, 0) == 0 ? PieceRole::word_start : PieceRole::continues_word;
}

std::vector<int64_t> Tokenizer::encode_word(const std::string& word, bool first) const {
  if (bpe_ && !first) return bpe_->encode(" " + word);
  return encode(word);
}

}  // namespace pyramidion::data

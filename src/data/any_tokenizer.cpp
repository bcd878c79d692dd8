#include "pyramidion/data/any_tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "pyramidion/util/json_depth.h"

namespace pyramidion::data {

Tokenizer::Tokenizer(SentencePieceTokenizer tokenizer)
    : spm_(std::make_shared<const SentencePieceTokenizer>(std::move(tokenizer))) {}

Tokenizer::Tokenizer(ByteLevelBpeTokenizer tokenizer)
    : bpe_(std::make_shared<const ByteLevelBpeTokenizer>(std::move(tokenizer))) {}

Tokenizer Tokenizer::from_bytes(const std::string& bytes) {
  if (ByteLevelBpeTokenizer::is_serialized_form(bytes)) return Tokenizer(ByteLevelBpeTokenizer::from_bytes(bytes));
  return Tokenizer(SentencePieceTokenizer::from_bytes(bytes));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path given(path);
  if (fs::is_directory(given, ec)) {  // a checkpoint folder: tokenizer.json, else the vocab.json + merges.txt pair
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
  if (ByteLevelBpeTokenizer::is_serialized_form(text)) {
    try {
      return Tokenizer(ByteLevelBpeTokenizer::from_bytes(text));
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

const char* Tokenizer::kind() const { return spm_ ? "sentencepiece" : "byte_level_bpe"; }

const SentencePieceTokenizer& Tokenizer::sentencepiece() const {
  if (!spm_) throw std::logic_error("the tokenizer is a byte-level BPE tokenizer, not a SentencePiece one");
  return *spm_;
}

const ByteLevelBpeTokenizer& Tokenizer::byte_level_bpe() const {
  if (!bpe_) throw std::logic_error("the tokenizer is a SentencePiece tokenizer, not a byte-level BPE one");
  return *bpe_;
}

#define PYRAMIDION_FORWARD(call) return spm_ ? spm_->call : bpe_->call

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

}  // namespace pyramidion::data

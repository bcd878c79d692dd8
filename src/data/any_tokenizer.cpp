#include "pyramidion/data/any_tokenizer.h"

#include <stdexcept>
#include <utility>

namespace pyramidion::data {

Tokenizer::Tokenizer(SentencePieceTokenizer tokenizer)
    : spm_(std::make_shared<const SentencePieceTokenizer>(std::move(tokenizer))) {}

Tokenizer::Tokenizer(ByteLevelBpeTokenizer tokenizer)
    : bpe_(std::make_shared<const ByteLevelBpeTokenizer>(std::move(tokenizer))) {}

Tokenizer Tokenizer::from_bytes(const std::string& bytes) {
  if (ByteLevelBpeTokenizer::is_serialized_form(bytes)) return Tokenizer(ByteLevelBpeTokenizer::from_bytes(bytes));
  return Tokenizer(SentencePieceTokenizer::from_bytes(bytes));
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

}  // namespace pyramidion::data

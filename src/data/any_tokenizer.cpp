#include "pyramidion/data/any_tokenizer.h"

#include <stdexcept>
#include <utility>

namespace pyramidion::data {

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

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

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

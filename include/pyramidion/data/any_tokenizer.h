#pragma once
// A tokenizer of any kind a model file can embed: SentencePiece (models trained here), PEGASUS's SentencePiece with
// its id offset, or GPT-2 byte-level BPE (BART). What the Summarizer, `data prepare`'s encoding and the highlight
// view use, whatever the kind. Cheap to copy (shares the loaded tables); thread-safe as the tokenizers it holds are.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pyramidion/data/byte_level_bpe.h"
#include "pyramidion/data/pegasus_tokenizer.h"
#include "pyramidion/data/tokenizer.h"

namespace pyramidion::data {

class Tokenizer {
 public:
  Tokenizer(SentencePieceTokenizer tokenizer);  // NOLINT(google-explicit-constructor): either kind converts
  Tokenizer(ByteLevelBpeTokenizer tokenizer);   // NOLINT(google-explicit-constructor)
  Tokenizer(PegasusTokenizer tokenizer);        // NOLINT(google-explicit-constructor)
  // `bytes` = what serialized() gives (a model file's embedded tokenizer): ByteLevelBpeTokenizer's JSON form
  // (ByteLevelBpeTokenizer::is_serialized_form), PegasusTokenizer's form (PegasusTokenizer::is_serialized_form),
  // else a SentencePiece model. The forms start differently (`{"type":"byte_level_bpe"`,
  // `{"type":"pegasus_sentencepiece"`, a protobuf field tag), so every earlier model file reads as before.
  static Tokenizer from_bytes(const std::string& bytes);

  // "sentencepiece", "pegasus_sentencepiece" or "byte_level_bpe".
  const char* kind() const;
  // The tokenizer held; throws std::logic_error when it is of another kind.
  const SentencePieceTokenizer& sentencepiece() const;
  const ByteLevelBpeTokenizer& byte_level_bpe() const;
  const PegasusTokenizer& pegasus() const;
  bool is_sentencepiece() const { return spm_ != nullptr; }  // the plain kind (not PEGASUS's offset form)

  // What a token is to the words of the text, by its piece (the highlight view groups tokens into words with it):
  // word_start: begins a word (SentencePiece's U+2581 mark, byte-level BPE's "Ġ" = a space byte, an added token
  // such as <mask_1>); continues_word: inside the word before it; space: whitespace only, no line break (a
  // byte-level BPE run of spaces, which the next word's pieces follow); line_break: the sentence separator (<sep>,
  // PEGASUS's <n>) or whitespace with a newline (byte-level BPE "Ċ"); special: pad, BOS, EOS.
  enum class PieceRole { word_start, continues_word, space, line_break, special };
  PieceRole piece_role(int64_t id) const;
  // The ids of `word` (no whitespace in it) where encode(text) puts them when the word follows one space in the
  // text (`first`: starts the text): encode(word) for SentencePiece (its dummy prefix is that space), encode(" " +
  // word) for byte-level BPE unless first.
  std::vector<int64_t> encode_word(const std::string& word, bool first) const;

  // As SentencePieceTokenizer's and ByteLevelBpeTokenizer's (no BOS/EOS added by encode).
  std::vector<int64_t> encode(const std::string& text) const;
  std::vector<int64_t> encode_sentences(const std::vector<std::string>& sentences) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  std::string decode(const int64_t* ids, size_t count) const;
  std::vector<std::string> decode_sentences(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;
  int64_t pad_id() const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t sentence_separator_id() const;  // -1 when absent (always for byte-level BPE)
  std::string id_to_piece(int64_t id) const;
  int64_t piece_to_id(const std::string& piece) const;
  // The bytes from_bytes takes; tokenizer_checksum() is computed over them.
  std::string serialized() const;

 private:
  std::shared_ptr<const SentencePieceTokenizer> spm_;
  std::shared_ptr<const ByteLevelBpeTokenizer> bpe_;
  std::shared_ptr<const PegasusTokenizer> pegasus_;
};

}  // namespace pyramidion::data

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
  // A tokenizer file: a SentencePiece .model; a Hugging Face tokenizer.json (byte-level BPE); a vocab.json with
  // merges.txt beside it; a serialized byte-level BPE or PEGASUS tokenizer (a dataset's byte_level_bpe.json or
  // pegasus_spiece.model); or a checkpoint folder holding spiece.model (with config.json: from_hf_sentencepiece),
  // else tokenizer.json, else vocab.json + merges.txt. Errors name `path`.
  static Tokenizer from_file(const std::string& path);
  // A Hugging Face checkpoint folder's spiece.model (its bytes) as that checkpoint numbers it: PEGASUS's
  // (model_type "pegasus") with PegasusTokenizer's offset (tokenizer_config.json's `offset`, else 103) when the
  // pieces + offset make `vocab_size`; otherwise the SentencePiece model as it is. Errors name the files.
  static Tokenizer from_hf_sentencepiece(const std::string& spiece_bytes, const std::string& spiece_path,
                                         const std::string& model_type, int64_t vocab_size,
                                         const std::string& tokenizer_config_path);

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

// The special ids a tokenizer must have to train a model with: a pad piece and an EOS piece (BOS may be absent: the
// decoder then starts from EOS, as fairseq's does). Throws std::runtime_error naming `origin` and saying how to fix
// the tokenizer.
void check_tokenizer_for_training(const Tokenizer& tokenizer, const std::string& origin);

}  // namespace pyramidion::data

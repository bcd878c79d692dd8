#pragma once
// `pyramidion data prepare`: reads corpora, tokenizes them once (in parallel, input order kept) and writes one
// BinaryDataset file per split, plus the tokenizer and meta.json, into an output directory.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/data/any_tokenizer.h"  // encode_example takes either kind (a SentencePieceTokenizer converts)
#include "pyramidion/data/readers.h"

namespace pyramidion::data {

struct SplitInput {
  std::string name;  // "train", "valid", "test": the output is DIR/<name>.bin
  std::string path;
};

inline constexpr int kMaxPrepareThreads = 256;

struct PrepareOptions {
  // A SentencePiece .model (copied to DIR/spm.model) or a GPT-2 byte-level BPE tokenizer: a Hugging Face
  // tokenizer.json, a vocab.json with merges.txt beside it, or a folder holding either (Tokenizer::from_file;
  // written to DIR/byte_level_bpe.json in its serialized form).
  std::string tokenizer_path;
  std::vector<SplitInput> splits;
  ReaderOptions reader;
  std::string output_dir;
  int max_source_length = 16384;  // tokens, EOS included
  int max_target_length = 1024;   // tokens, EOS included
  // Mark source sentence boundaries with <sep> too (targets always have them).
  bool source_sentence_separators = false;
  // BART's framing (model.source_bos / model.target_bos): BOS before the source / target tokens.
  bool source_bos = false;
  bool target_bos = false;
  int threads = 0;          // 0 = hardware threads; at most kMaxPrepareThreads
  size_t chunk_size = 512;  // examples tokenized per parallel step
  bool progress = true;     // progress bar on stderr
};

struct SplitReport {
  std::string name;
  std::string input_path, output_path;
  ReadStats read;
  int64_t examples = 0;
  int64_t source_truncated = 0, target_truncated = 0;
  int64_t source_tokens = 0, target_tokens = 0;  // as stored
};

struct PrepareReport {
  std::vector<SplitReport> splits;
  std::string meta_path;
};

// A source is cut to kSourceBytesPerToken bytes per kept token (max_source_length) before it is tokenized: the model
// reads only max_source_length tokens, and no tokenizer averages more than a few bytes a token on text (a word-level
// one about 6), so the cut never changes the tokens kept on ordinary text, while a multi-megabyte document (or
// request) is no longer tokenized whole (sentencepiece needs about 100 bytes of memory per input byte).
inline constexpr size_t kSourceBytesPerToken = 64;

// Cuts `sentences` (joined by one byte each) to at most `max_bytes` bytes, at a UTF-8 character boundary; returns
// whether anything was cut.
bool cut_to_byte_budget(std::vector<std::string>& sentences, size_t max_bytes);

// The framing a prepared dataset directory was written with: its meta.json's source_sentence_separators,
// source_bos and target_bos (false for a dataset without meta.json or without the key). Throws std::runtime_error
// naming meta.json when it cannot be parsed or a value is not a boolean.
struct DatasetFraming {
  bool source_sentence_separators = false;
  bool source_bos = false;
  bool target_bos = false;
};
DatasetFraming dataset_framing(const std::string& dataset_dir);

// The tokenizer file of a prepared dataset directory: meta.json's "tokenizer" (spm.model or byte_level_bpe.json),
// DIR/spm.model for a dataset without it.
std::string dataset_tokenizer_path(const std::string& dataset_dir);

// Source: [BOS (source_bos)] + encode(source) [cut to leave room for the framing tokens] + EOS, at most
// max_source_length tokens; target: [BOS (target_bos)] + encode_sentences(target) likewise. A source longer than
// kSourceBytesPerToken * max_source_length bytes is cut first (and counted as truncated).
void encode_example(const Tokenizer& tokenizer, const SummarizationExample& example, const PrepareOptions& options,
                    std::vector<int64_t>& source, std::vector<int64_t>& target, bool& source_truncated,
                    bool& target_truncated);

// Writes into a staging directory beside options.output_dir (with the marker file .pyramidion-dataset) and swaps it
// in at the end: an existing output directory is replaced whole, and on an error it is left as it was. Only an empty
// directory or one an earlier prepare_dataset wrote (holding the marker and nothing but its files) is replaced;
// anything else at options.output_dir (a file, a link, a device, a directory of other files, the current
// directory, a directory holding an input) is refused with a std::runtime_error naming it.
PrepareReport prepare_dataset(const PrepareOptions& options);

}  // namespace pyramidion::data

#pragma once
// Plain text for tokenizer training, extracted from summarization corpora: one sentence per line, sources
// and targets both, long sentences cut at whitespace (SentencePiece skips lines above its length limit).
#include <cstdint>
#include <string>
#include <vector>

#include "pyramidion/data/readers.h"

namespace pyramidion::data {

struct TrainingTextOptions {
  ReaderOptions reader;
  int64_t max_documents = 0;     // per input file; 0 = all
  size_t max_line_bytes = 4096;  // keep below TokenizerTrainOptions::max_sentence_length
  bool include_targets = true;
};

struct TrainingTextReport {
  int64_t documents = 0;
  int64_t lines = 0;
  int64_t bytes = 0;
};

TrainingTextReport extract_training_text(const std::vector<std::string>& inputs, const std::string& output_path,
                                         const TrainingTextOptions& options);

}  // namespace pyramidion::data

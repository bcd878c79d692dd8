#pragma once
// Shared machinery of the format readers: counting, skipping empty examples, tolerating malformed records.
#include <string>

#include "pyramidion/data/readers.h"

namespace pyramidion::data {

class RecordReader : public ExampleReader {
 public:
  explicit RecordReader(ReaderOptions options) : options_(std::move(options)) {}
  bool next(SummarizationExample& example) final;
  const ReadStats& stats() const final { return stats_; }

 protected:
  // The next raw record, or false at the end; throws DataError for a malformed one. Sets where_file_/where_line_.
  virtual bool read_record(SummarizationExample& example) = 0;

  ReaderOptions options_;
  std::string where_file_;
  int64_t where_line_ = 0;

 private:
  void warn(const std::string& message);
  ReadStats stats_;
  int warnings_ = 0;
};

// Trims spaces, drops empty sentences.
void clean_sentences(std::vector<std::string>& sentences);
// Splits on '\n' and, when not empty, on `delimiter`.
std::vector<std::string> split_sentences(const std::string& text, const std::string& delimiter = "");

}  // namespace pyramidion::data

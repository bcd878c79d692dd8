#pragma once
// The prepared, tokenized corpus: one memory-mapped file per split (see docs/data.md for the layout).
// Lengths are plain arrays, so token-budget batching can sort and bucket without touching token data.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pyramidion::data {

inline constexpr char kBinaryDatasetMagic[8] = {'P', 'Y', 'R', 'D', 'S', 'E', 'T', '\0'};
// 2: + the tokenizer's checksum and, for valid/test splits, the full reference text of each example (after the
//    example ids). Version 1 files still load (no checksum recorded, references from the target tokens).
inline constexpr uint32_t kBinaryDatasetVersion = 2;

// A view of one sequence of token ids stored as uint16 or int32 (the file's token width).
class TokenSpan {
 public:
  TokenSpan() = default;
  TokenSpan(const void* data, size_t size, int width) : data_(data), size_(size), width_(width) {}
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t operator[](size_t i) const {
    return width_ == 2 ? static_cast<const uint16_t*>(data_)[i] : static_cast<const int32_t*>(data_)[i];
  }
  // Copies into `out` (room for size() values).
  void copy_to(int64_t* out) const;
  std::vector<int64_t> to_vector() const;

 private:
  const void* data_ = nullptr;
  size_t size_ = 0;
  int width_ = 4;
};

class BinaryDataset {
 public:
  // Maps the file and checks header, sizes and index; throws std::runtime_error naming the file.
  explicit BinaryDataset(const std::string& path);
  ~BinaryDataset();
  BinaryDataset(BinaryDataset&& other) noexcept;
  BinaryDataset& operator=(BinaryDataset&& other) noexcept;
  BinaryDataset(const BinaryDataset&) = delete;
  BinaryDataset& operator=(const BinaryDataset&) = delete;

  size_t size() const { return count_; }
  TokenSpan source(size_t i) const;
  TokenSpan target(size_t i) const;
  uint32_t source_length(size_t i) const { return source_lengths_[i]; }
  uint32_t target_length(size_t i) const { return target_lengths_[i]; }
  // All lengths at once (size() entries), for sorting and bucketing.
  const uint32_t* source_lengths() const { return source_lengths_; }
  const uint32_t* target_lengths() const { return target_lengths_; }
  std::string_view id(size_t i) const;
  // The untruncated reference summary (sentences joined by '\n') when the file keeps them (valid/test splits of
  // version 2); "" otherwise.
  bool has_references() const { return reference_offsets_ != nullptr; }
  std::string_view reference(size_t i) const;
  // data::tokenizer_checksum of the tokenizer that made the ids; 0 = not recorded (version 1 files).
  uint64_t tokenizer_checksum() const { return tokenizer_checksum_; }
  uint32_t format_version() const { return version_; }

  int64_t vocab_size() const { return vocab_size_; }
  int token_width() const { return token_width_; }  // bytes per token: 2 or 4
  uint64_t total_source_tokens() const { return total_source_tokens_; }
  uint64_t total_target_tokens() const { return total_target_tokens_; }
  const std::string& path() const { return path_; }

  // Reads every byte and compares the checksum, and checks every id < vocab_size. O(file size).
  void verify() const;

 private:
  void release();
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t file_size_ = 0;
  size_t count_ = 0;
  int token_width_ = 4;
  int64_t vocab_size_ = 0;
  uint64_t total_source_tokens_ = 0, total_target_tokens_ = 0;
  const uint8_t* tokens_ = nullptr;
  const uint64_t* token_offsets_ = nullptr;  // start of example i's source; its target follows
  const uint32_t* source_lengths_ = nullptr;
  const uint32_t* target_lengths_ = nullptr;
  const uint64_t* id_offsets_ = nullptr;  // count_ + 1 entries into ids_
  const char* ids_ = nullptr;
  uint32_t version_ = 0;
  uint64_t tokenizer_checksum_ = 0;
  const uint64_t* reference_offsets_ = nullptr;  // count_ + 1 entries into references_, or null
  const char* references_ = nullptr;
};

// Streams examples into `path` (through a temporary file renamed by finish()).
class BinaryDatasetWriter {
 public:
  // Token width: 2 bytes when vocab_size <= 65536, else 4.
  // tokenizer_checksum: data::tokenizer_checksum of the tokenizer that made the ids (0 = unknown).
  BinaryDatasetWriter(const std::string& path, int64_t vocab_size, uint64_t tokenizer_checksum = 0);
  ~BinaryDatasetWriter();  // without finish(): removes the temporary file
  BinaryDatasetWriter(const BinaryDatasetWriter&) = delete;
  BinaryDatasetWriter& operator=(const BinaryDatasetWriter&) = delete;

  // Sequences are stored as given (truncation and EOS are the caller's business). Ids must be < vocab_size.
  // `reference`: the full reference text; a file keeps references when any example has one.
  void add(std::string_view id, const std::vector<int64_t>& source, const std::vector<int64_t>& target,
           std::string_view reference = {});
  // Writes the index and header, then renames the temporary file onto the path.
  void finish();
  size_t size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pyramidion::data

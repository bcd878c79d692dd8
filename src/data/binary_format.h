#pragma once
// On-disk layout of a BinaryDataset file (little-endian; documented in docs/data.md).
#include <cstdint>
#include <cstring>

namespace pyramidion::data {

struct BinaryDatasetHeader {
  char magic[8];
  uint32_t version;
  uint32_t token_width;  // bytes per token id: 2 (uint16) or 4 (int32)
  uint64_t count;        // examples
  uint64_t source_tokens;
  uint64_t target_tokens;
  uint64_t vocab_size;
  uint64_t ids_bytes;  // size of the example-id blob
  uint64_t checksum;   // Checksum64 of every byte after the header
};
static_assert(sizeof(BinaryDatasetHeader) == 64, "the header is 64 bytes on disk");

// Version 2 adds, 8-aligned after the id blob: u64 tokenizer checksum | u64 reference count (0 or count) |
// u64 reference bytes | u64 reference offsets[count + 1 when kept] | reference text.
struct BinaryDatasetExtension {
  uint64_t tokenizer_checksum;
  uint64_t reference_count;
  uint64_t reference_bytes;
};
static_assert(sizeof(BinaryDatasetExtension) == 24, "24 bytes on disk");

inline uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// FNV-1a over 8-byte little-endian words (the tail zero-padded), fed in arbitrary pieces.
class Checksum64 {
 public:
  void update(const void* data, size_t size) {
    auto bytes = static_cast<const uint8_t*>(data);
    while (size > 0 && pending_size_ > 0) {
      add_pending(*bytes++);
      --size;
    }
    while (size >= 8) {
      uint64_t word;
      std::memcpy(&word, bytes, 8);
      mix(word);
      bytes += 8;
      size -= 8;
    }
    while (size-- > 0) add_pending(*bytes++);
  }
  uint64_t value() const {
    uint64_t h = hash_;
    if (pending_size_ > 0) {
      uint64_t word = 0;
      std::memcpy(&word, pending_, pending_size_);
      h = (h ^ word) * kPrime;
    }
    return h;
  }

 private:
  static constexpr uint64_t kPrime = 0x100000001b3ULL;
  void mix(uint64_t word) { hash_ = (hash_ ^ word) * kPrime; }
  void add_pending(uint8_t byte) {
    pending_[pending_size_++] = byte;
    if (pending_size_ == 8) {
      uint64_t word;
      std::memcpy(&word, pending_, 8);
      mix(word);
      pending_size_ = 0;
    }
  }
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint8_t pending_[8] = {};
  size_t pending_size_ = 0;
};

}  // namespace pyramidion::data

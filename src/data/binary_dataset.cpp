#include "pyramidion/data/binary_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "binary_format.h"

namespace pyramidion::data {

void TokenSpan::copy_to(int64_t* out) const {
  for (size_t i = 0; i < size_; ++i) out[i] = (*this)[i];
}

std::vector<int64_t> TokenSpan::to_vector() const {
  std::vector<int64_t> out(size_);
  copy_to(out.data());
  return out;
}

BinaryDataset::BinaryDataset(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& why) -> std::runtime_error {
    release();
    return std::runtime_error(path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
  }
  file_size_ = static_cast<size_t>(info.st_size);
  if (file_size_ < sizeof(BinaryDatasetHeader)) {
    ::close(fd);
    throw std::runtime_error(path + ": not a pyramidion dataset (" + std::to_string(file_size_) +
                             " bytes, shorter than the header)");
  }
  void* mapped = ::mmap(nullptr, file_size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
  base_ = static_cast<const uint8_t*>(mapped);

  BinaryDatasetHeader header;
  std::memcpy(&header, base_, sizeof(header));
  if (std::memcmp(header.magic, kBinaryDatasetMagic, sizeof(header.magic)) != 0)
    throw fail("not a pyramidion dataset (bad magic)");
  if (header.version < 1 || header.version > kBinaryDatasetVersion)
    throw fail("unsupported format version " + std::to_string(header.version) + " (this build reads versions 1 to " +
               std::to_string(kBinaryDatasetVersion) + ")");
  if (header.token_width != 2 && header.token_width != 4)
    throw fail("corrupt header (token width " + std::to_string(header.token_width) + ")");
  // Every count is bounded by the file size before any arithmetic, so the layout cannot overflow.
  const uint64_t size = file_size_;
  if (header.count > size || header.source_tokens > size || header.target_tokens > size || header.ids_bytes > size)
    throw fail("corrupt header (counts larger than the file)");
  const uint64_t n = header.count;
  uint64_t at = sizeof(BinaryDatasetHeader);
  const uint64_t tokens_at = at;
  at = align8(at + (header.source_tokens + header.target_tokens) * header.token_width);
  const uint64_t offsets_at = at;
  at += n * sizeof(uint64_t);
  const uint64_t source_lengths_at = at;
  at = align8(at + n * sizeof(uint32_t));
  const uint64_t target_lengths_at = at;
  at = align8(at + n * sizeof(uint32_t));
  const uint64_t id_offsets_at = at;
  at += (n + 1) * sizeof(uint64_t);
  const uint64_t ids_at = at;
  at += header.ids_bytes;
  BinaryDatasetExtension extension{};
  uint64_t reference_offsets_at = 0, references_at = 0;
  if (header.version >= 2) {
    at = align8(at);
    if (at + sizeof(extension) > size) throw fail("truncated or corrupt file (no room for the version 2 extension)");
    std::memcpy(&extension, base_ + at, sizeof(extension));
    at += sizeof(extension);
    if ((extension.reference_count != 0 && extension.reference_count != n) || extension.reference_bytes > size)
      throw fail("corrupt header (reference counts)");
    if (extension.reference_count != 0) {
      reference_offsets_at = at;
      at += (n + 1) * sizeof(uint64_t);
      references_at = at;
      at += extension.reference_bytes;
    }
  }
  if (at != size)
    throw fail("truncated or corrupt file (the header implies " + std::to_string(at) + " bytes, found " +
               std::to_string(size) + ")");

  count_ = n;
  token_width_ = static_cast<int>(header.token_width);
  vocab_size_ = static_cast<int64_t>(header.vocab_size);
  total_source_tokens_ = header.source_tokens;
  total_target_tokens_ = header.target_tokens;
  tokens_ = base_ + tokens_at;
  token_offsets_ = reinterpret_cast<const uint64_t*>(base_ + offsets_at);
  source_lengths_ = reinterpret_cast<const uint32_t*>(base_ + source_lengths_at);
  target_lengths_ = reinterpret_cast<const uint32_t*>(base_ + target_lengths_at);
  id_offsets_ = reinterpret_cast<const uint64_t*>(base_ + id_offsets_at);
  ids_ = reinterpret_cast<const char*>(base_ + ids_at);
  version_ = header.version;
  tokenizer_checksum_ = extension.tokenizer_checksum;
  if (extension.reference_count != 0) {
    reference_offsets_ = reinterpret_cast<const uint64_t*>(base_ + reference_offsets_at);
    references_ = reinterpret_cast<const char*>(base_ + references_at);
  }

  // The index is small next to the tokens: check it whole, so span accessors never read out of bounds.
  uint64_t expected = 0, sources = 0, targets = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (token_offsets_[i] != expected) throw fail("corrupt index (token offset of example " + std::to_string(i) + ")");
    expected += uint64_t{source_lengths_[i]} + target_lengths_[i];
    sources += source_lengths_[i];
    targets += target_lengths_[i];
    if (id_offsets_[i + 1] < id_offsets_[i])
      throw fail("corrupt index (id offset of example " + std::to_string(i) + ")");
  }
  if (sources != header.source_tokens || targets != header.target_tokens)
    throw fail("corrupt index (lengths do not add up to the header's token counts)");
  if (id_offsets_[0] != 0 || id_offsets_[n] != header.ids_bytes) throw fail("corrupt index (id offsets)");
  if (reference_offsets_ != nullptr) {
    if (reference_offsets_[0] != 0 || reference_offsets_[n] != extension.reference_bytes)
      throw fail("corrupt index (reference offsets)");
    for (uint64_t i = 0; i < n; ++i)
      if (reference_offsets_[i + 1] < reference_offsets_[i])
        throw fail("corrupt index (reference offset of example " + std::to_string(i) + ")");
  }
}

BinaryDataset::~BinaryDataset() { release(); }

BinaryDataset::BinaryDataset(BinaryDataset&& other) noexcept { *this = std::move(other); }

BinaryDataset& BinaryDataset::operator=(BinaryDataset&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    base_ = other.base_;
    file_size_ = other.file_size_;
    count_ = other.count_;
    token_width_ = other.token_width_;
    vocab_size_ = other.vocab_size_;
    total_source_tokens_ = other.total_source_tokens_;
    total_target_tokens_ = other.total_target_tokens_;
    tokens_ = other.tokens_;
    token_offsets_ = other.token_offsets_;
    source_lengths_ = other.source_lengths_;
    target_lengths_ = other.target_lengths_;
    id_offsets_ = other.id_offsets_;
    ids_ = other.ids_;
    version_ = other.version_;
    tokenizer_checksum_ = other.tokenizer_checksum_;
    reference_offsets_ = other.reference_offsets_;
    references_ = other.references_;
    other.base_ = nullptr;
    other.count_ = 0;
  }
  return *this;
}

void BinaryDataset::release() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), file_size_);
  base_ = nullptr;
}

TokenSpan BinaryDataset::source(size_t i) const {
  if (i >= count_) throw std::out_of_range(path_ + ": example " + std::to_string(i) + " of " + std::to_string(count_));
  return TokenSpan(tokens_ + token_offsets_[i] * token_width_, source_lengths_[i], token_width_);
}

TokenSpan BinaryDataset::target(size_t i) const {
  if (i >= count_) throw std::out_of_range(path_ + ": example " + std::to_string(i) + " of " + std::to_string(count_));
  return TokenSpan(tokens_ + (token_offsets_[i] + source_lengths_[i]) * token_width_, target_lengths_[i], token_width_);
}

std::string_view BinaryDataset::id(size_t i) const {
  if (i >= count_) throw std::out_of_range(path_ + ": example " + std::to_string(i) + " of " + std::to_string(count_));
  return std::string_view(ids_ + id_offsets_[i], id_offsets_[i + 1] - id_offsets_[i]);
}

std::string_view BinaryDataset::reference(size_t i) const {
  if (i >= count_) throw std::out_of_range(path_ + ": example " + std::to_string(i) + " of " + std::to_string(count_));
  if (reference_offsets_ == nullptr) return {};
  return std::string_view(references_ + reference_offsets_[i], reference_offsets_[i + 1] - reference_offsets_[i]);
}

void BinaryDataset::verify() const {
  BinaryDatasetHeader header;
  std::memcpy(&header, base_, sizeof(header));
  Checksum64 checksum;
  checksum.update(base_ + sizeof(header), file_size_ - sizeof(header));
  if (checksum.value() != header.checksum) throw std::runtime_error(path_ + ": checksum mismatch (corrupt file)");
  const uint64_t tokens = total_source_tokens_ + total_target_tokens_;
  TokenSpan all(tokens_, tokens, token_width_);
  for (uint64_t i = 0; i < tokens; ++i) {
    int64_t id = all[i];
    if (id < 0 || id >= vocab_size_)
      throw std::runtime_error(path_ + ": token id " + std::to_string(id) + " outside the vocabulary of " +
                               std::to_string(vocab_size_));
  }
}

}  // namespace pyramidion::data

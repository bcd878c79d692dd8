#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "binary_format.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion::data {

struct BinaryDatasetWriter::State {
  std::string path, temp_path;
  int64_t vocab_size = 0;
  int token_width = 4;
  std::FILE* file = nullptr;
  uint64_t bytes_written = 0;  // after the header
  uint64_t source_tokens = 0, target_tokens = 0;
  Checksum64 checksum;
  std::vector<uint64_t> token_offsets;
  std::vector<uint32_t> source_lengths, target_lengths;
  std::vector<uint64_t> id_offsets{0};
  std::string ids;
  uint64_t tokenizer_checksum = 0;
  std::vector<uint64_t> reference_offsets{0};
  std::string references;
  bool has_references = false;
  std::vector<uint8_t> buffer;

  void write(const void* data, size_t size) {
    if (size == 0) return;
    if (std::fwrite(data, 1, size, file) != size)
      throw std::runtime_error("error writing " + temp_path + ": " + std::strerror(errno));
    checksum.update(data, size);
    bytes_written += size;
  }
  void pad_to_8() {
    static const uint8_t zeros[8] = {};
    write(zeros, align8(bytes_written) - bytes_written);
  }
  void write_tokens(const std::vector<int64_t>& tokens) {
    buffer.resize(tokens.size() * token_width);
    for (size_t i = 0; i < tokens.size(); ++i) {
      int64_t id = tokens[i];
      if (id < 0 || id >= vocab_size)
        throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                                std::to_string(vocab_size) + " (writing " + path + ")");
      if (token_width == 2) {
        uint16_t v = static_cast<uint16_t>(id);
        std::memcpy(buffer.data() + 2 * i, &v, 2);
      } else {
        int32_t v = static_cast<int32_t>(id);
        std::memcpy(buffer.data() + 4 * i, &v, 4);
      }
    }
    write(buffer.data(), buffer.size());
  }
};

BinaryDatasetWriter::BinaryDatasetWriter(const std::string& path, int64_t vocab_size, uint64_t tokenizer_checksum)
    : state_(new State) {
  state_->tokenizer_checksum = tokenizer_checksum;
  if (vocab_size <= 0 || vocab_size > INT32_MAX) throw std::invalid_argument("bad vocabulary size for " + path);
  state_->path = path;
  state_->vocab_size = vocab_size;
  state_->token_width = vocab_size <= 65536 ? 2 : 4;
  state_->temp_path = temporary_path_for(path);
  state_->file = std::fopen(state_->temp_path.c_str(), "wb");
  if (state_->file == nullptr)
    throw std::runtime_error("cannot write " + state_->temp_path + ": " + std::strerror(errno));
  BinaryDatasetHeader blank_header{};  // rewritten by finish() once the counts are known
  if (std::fwrite(&blank_header, sizeof(blank_header), 1, state_->file) != 1)
    throw std::runtime_error("error writing " + state_->temp_path);
}

BinaryDatasetWriter::~BinaryDatasetWriter() {
  if (state_ && state_->file) {
    std::fclose(state_->file);
    std::remove(state_->temp_path.c_str());
  }
}

size_t BinaryDatasetWriter::size() const { return state_->source_lengths.size(); }

void BinaryDatasetWriter::add(std::string_view id, const std::vector<int64_t>& source,
                              const std::vector<int64_t>& target, std::string_view reference) {
  State& s = *state_;
  if (s.file == nullptr) throw std::logic_error("BinaryDatasetWriter::add after finish: " + s.path);
  if (source.size() > UINT32_MAX || target.size() > UINT32_MAX)
    throw std::length_error("sequence too long for " + s.path);
  s.token_offsets.push_back(s.source_tokens + s.target_tokens);
  s.write_tokens(source);
  s.write_tokens(target);
  s.source_tokens += source.size();
  s.target_tokens += target.size();
  s.source_lengths.push_back(static_cast<uint32_t>(source.size()));
  s.target_lengths.push_back(static_cast<uint32_t>(target.size()));
  s.ids.append(id.data(), id.size());
  s.id_offsets.push_back(s.ids.size());
  s.references.append(reference.data(), reference.size());
  s.reference_offsets.push_back(s.references.size());
  s.has_references = s.has_references || !reference.empty();
}

void BinaryDatasetWriter::finish() {
  State& s = *state_;
  if (s.file == nullptr) return;
  s.pad_to_8();
  s.write(s.token_offsets.data(), s.token_offsets.size() * sizeof(uint64_t));
  s.write(s.source_lengths.data(), s.source_lengths.size() * sizeof(uint32_t));
  s.pad_to_8();
  s.write(s.target_lengths.data(), s.target_lengths.size() * sizeof(uint32_t));
  s.pad_to_8();
  s.write(s.id_offsets.data(), s.id_offsets.size() * sizeof(uint64_t));
  s.write(s.ids.data(), s.ids.size());
  s.pad_to_8();
  BinaryDatasetExtension extension{};
  extension.tokenizer_checksum = s.tokenizer_checksum;
  extension.reference_count = s.has_references ? s.source_lengths.size() : 0;
  extension.reference_bytes = s.has_references ? s.references.size() : 0;
  s.write(&extension, sizeof(extension));
  if (s.has_references) {
    s.write(s.reference_offsets.data(), s.reference_offsets.size() * sizeof(uint64_t));
    s.write(s.references.data(), s.references.size());
  }

  BinaryDatasetHeader header{};
  std::memcpy(header.magic, kBinaryDatasetMagic, sizeof(header.magic));
  header.version = kBinaryDatasetVersion;
  header.token_width = static_cast<uint32_t>(s.token_width);
  header.count = s.source_lengths.size();
  header.source_tokens = s.source_tokens;
  header.target_tokens = s.target_tokens;
  header.vocab_size = static_cast<uint64_t>(s.vocab_size);
  header.ids_bytes = s.ids.size();
  header.checksum = s.checksum.value();
  bool ok = std::fseek(s.file, 0, SEEK_SET) == 0 && std::fwrite(&header, sizeof(header), 1, s.file) == 1;
  ok = (std::fclose(s.file) == 0) && ok;
  s.file = nullptr;
  if (!ok) {
    std::remove(s.temp_path.c_str());
    throw std::runtime_error("error writing " + s.temp_path);
  }
  commit_file(s.temp_path, s.path);
}

}  // namespace pyramidion::data

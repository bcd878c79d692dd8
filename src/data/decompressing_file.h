#pragma once
// .xz and .gz files read in-process (liblzma, zlib) as a stdio FILE*, so line readers stay the same whatever the
// file's compression, and a corrupt or truncated archive is an error naming the file and the compressed byte
// offset (no child process, no "the decompressor failed").
#include <cstdio>
#include <memory>
#include <string>

namespace pyramidion::data {

class DecompressingFile {
 public:
  // Opens `path` (.xz: xz/lzma streams, concatenated ones too; .gz: gzip members, concatenated ones too).
  // Throws std::runtime_error "cannot open PATH: REASON".
  explicit DecompressingFile(const std::string& path);
  ~DecompressingFile();
  DecompressingFile(const DecompressingFile&) = delete;
  DecompressingFile& operator=(const DecompressingFile&) = delete;

  // The decompressed bytes as a read-only stream (owned by this object; closed by its destructor). A read that
  // fails sets the stream's error flag; error() then says why.
  std::FILE* stream() const { return stream_; }
  // "corrupt xz data at compressed byte 1234 (...)", "truncated gzip data (ends at compressed byte N)" or a read
  // error; empty when nothing failed.
  const std::string& error() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
  std::FILE* stream_ = nullptr;
};

}  // namespace pyramidion::data

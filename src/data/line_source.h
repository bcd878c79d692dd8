#pragma once
// Reads a text file line by line without loading it whole; .xz/.gz files are decompressed in-process as they are
// read (data/decompressing_file.h).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "decompressing_file.h"

namespace pyramidion::data {

class LineSource {
 public:
  explicit LineSource(const std::string& path);
  ~LineSource();
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  // Next line without its '\n' (and '\r'); false at the end. Throws std::runtime_error "PATH:LINE: corrupt xz data
  // at compressed byte N (...)" for a damaged archive, "PATH:LINE: read error (REASON)" / "PATH:LINE: line too long
  // (N bytes read, ...)" when reading fails.
  bool next(std::string& line);
  int64_t line_number() const { return line_number_; }  // of the last line returned, 1-based
  const std::string& path() const { return path_; }

 private:
  void close();
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<DecompressingFile> decompressing_;  // .xz/.gz: file_ is its stream
  char* buffer_ = nullptr;
  size_t capacity_ = 0;
  int64_t line_number_ = 0;
};

bool is_compressed_path(const std::string& path);
// The path without a .xz/.gz suffix (for detecting the format from the extension).
std::string strip_compression_suffix(const std::string& path);

}  // namespace pyramidion::data

#pragma once
// Files that appear whole or not at all: written to a temporary file beside the target, flushed, then
// renamed over it. A crash or an error midway leaves the previous file untouched.
#include <fstream>
#include <string>

namespace pyramidion {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path, bool binary = true);  // throws std::runtime_error naming the file
  ~AtomicFileWriter();                                              // removes the temporary file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream() { return out_; }
  void commit();  // flush + rename; throws std::runtime_error naming the file on failure

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

// The whole content at once.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace pyramidion

#pragma once
// Files that appear whole or not at all: written to a temporary file beside the target (same file system),
// flushed to disk, then renamed over it. A crash or an error midway leaves the previous file untouched.
#include <fstream>
#include <string>

namespace pyramidion {

// A unique temporary path in the directory of `final_path`.
std::string temporary_path_for(const std::string& final_path);

// fsyncs `temp_path` and renames it onto `final_path`; on failure removes it and throws std::runtime_error
// naming `final_path`.
void commit_file(const std::string& temp_path, const std::string& final_path);

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path, bool binary = true);  // throws std::runtime_error naming the file
  ~AtomicFileWriter();                                              // removes the temporary file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream() { return out_; }
  void commit();  // flush + fsync + rename; throws std::runtime_error naming the file on failure

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

// The whole content at once.
void write_file_atomically(const std::string& path, const std::string& content);

// fsyncs a directory, so that the renames and removals in it so far survive a crash (best effort: errors ignored).
void sync_directory(const std::string& dir);

// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace pyramidion

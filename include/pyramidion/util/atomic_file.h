#pragma once
// Output files, one rule for every command. What `path` is decides how it is written:
//   - a regular file, or nothing yet: written to a temporary file beside it (same file system), flushed to disk,
//     then renamed over it. A crash or an error midway leaves the previous file untouched.
//   - a symbolic link to a regular file (or a dangling link): the same, at the link's final target; the link stays.
//   - anything else (a FIFO, a character or block device, a socket's peer through /proc/self/fd/N, /dev/stdout,
//     /dev/stderr, /dev/fd/N): written through directly, never replaced. Every write and the close are checked,
//     so a full device (/dev/full) is an error naming the path.
// A directory is refused. Every error is a std::runtime_error of one line that names the path.
#include <memory>
#include <ostream>
#include <string>

namespace pyramidion {

// A unique temporary path in the directory of `final_path`.
std::string temporary_path_for(const std::string& final_path);

// fsyncs `temp_path` and renames it onto `final_path`; on failure removes it and throws std::runtime_error
// naming `final_path`.
void commit_file(const std::string& temp_path, const std::string& final_path);

class FdStreamBuffer;

class AtomicFileWriter {
 public:
  // Opens the output as described above; throws std::runtime_error naming the file. (`binary` is kept for source
  // compatibility: POSIX makes no difference.)
  explicit AtomicFileWriter(std::string path, bool binary = true);
  ~AtomicFileWriter();  // removes the temporary file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  std::ostream& stream() { return *out_; }
  // Throws std::runtime_error "PATH: write failed (REASON)" when a write has failed so far.
  void check();
  // Flushes; a replaced file is fsynced and renamed into place, a written-through one closed. Throws
  // std::runtime_error naming the file on any failure.
  void commit();

  const std::string& path() const { return path_; }
  // Whether the output is written through (FIFO, device, /proc/self/fd link) rather than replaced.
  bool written_through() const { return temp_path_.empty(); }

 private:
  [[noreturn]] void fail(const std::string& what, int error);
  std::string path_;         // as given (error messages name it)
  std::string target_path_;  // the file the rename replaces: path_, or a symbolic link's final target
  std::string temp_path_;    // empty when written through
  std::unique_ptr<FdStreamBuffer> buffer_;
  std::unique_ptr<std::ostream> out_;
  bool committed_ = false;
};

// The whole content at once.
void write_file_atomically(const std::string& path, const std::string& content);

// fsyncs a directory, so that the renames and removals in it so far survive a crash (best effort: errors ignored).
void sync_directory(const std::string& dir);

// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace pyramidion

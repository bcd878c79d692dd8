#pragma once
// A std::streambuf over a file descriptor whose every write(2) is checked: the first failure is kept (errno) and
// the stream goes bad, so a full device or a closed pipe is never taken for success. Owns the descriptor.
#include <streambuf>
#include <vector>

namespace pyramidion {

class FdStreamBuffer : public std::streambuf {
 public:
  explicit FdStreamBuffer(int fd);  // takes ownership of `fd`
  ~FdStreamBuffer() override;       // closes the descriptor (unchecked: call close() to check)
  FdStreamBuffer(const FdStreamBuffer&) = delete;
  FdStreamBuffer& operator=(const FdStreamBuffer&) = delete;

  int fd() const { return fd_; }
  int error() const { return error_; }  // errno of the first failed write/close, 0 when none
  // Writes what is buffered; false (and error() set) on failure.
  bool flush_all();
  // flush_all(), then close(2), checked; false (and error() set) on failure. Idempotent.
  bool close();

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  bool write_all(const char* data, size_t size);
  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

}  // namespace pyramidion

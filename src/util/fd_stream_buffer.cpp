#include "fd_stream_buffer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pyramidion {

FdStreamBuffer::FdStreamBuffer(int fd) : fd_(fd), buffer_(1 << 16) {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

FdStreamBuffer::~FdStreamBuffer() {
  if (fd_ >= 0) ::close(fd_);
}

bool FdStreamBuffer::write_all(const char* data, size_t size) {
  if (error_ != 0) return false;
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      return false;
    }
    if (n == 0) {  // no progress and no errno: treat as a full device
      error_ = ENOSPC;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool FdStreamBuffer::flush_all() {
  const size_t pending = static_cast<size_t>(pptr() - pbase());
  const bool ok = fd_ >= 0 && write_all(pbase(), pending);
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  if (fd_ < 0 && error_ == 0) error_ = EBADF;
  return ok;
}

bool FdStreamBuffer::close() {
  if (fd_ < 0) return error_ == 0;
  bool ok = flush_all();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR) {  // EINTR: the descriptor is closed on Linux
    if (error_ == 0) error_ = errno;
    ok = false;
  }
  return ok;
}

FdStreamBuffer::int_type FdStreamBuffer::overflow(int_type c) {
  if (!flush_all()) return traits_type::eof();
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  *pptr() = traits_type::to_char_type(c);
  pbump(1);
  return c;
}

std::streamsize FdStreamBuffer::xsputn(const char* s, std::streamsize n) {
  const auto room = static_cast<std::streamsize>(epptr() - pptr());
  if (n <= room) {
    std::memcpy(pptr(), s, static_cast<size_t>(n));
    pbump(static_cast<int>(n));
    return n;
  }
  if (!flush_all()) return 0;
  if (n >= static_cast<std::streamsize>(buffer_.size())) return write_all(s, static_cast<size_t>(n)) ? n : 0;
  std::memcpy(pptr(), s, static_cast<size_t>(n));
  pbump(static_cast<int>(n));
  return n;
}

int FdStreamBuffer::sync() { return flush_all() ? 0 : -1; }

}  // namespace pyramidion

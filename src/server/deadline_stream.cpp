#include "server/deadline_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pyramidion::server {
namespace {

// Waits for `events` on fd for at most timeout_ms; true when they arrived (or the socket failed: the call that
// follows reports it).
bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, std::max(timeout_ms, 0));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

}  // namespace

DeadlineStream::DeadlineStream(int fd, std::string received, Clock::time_point read_deadline, double write_timeout_s)
    : fd_(fd),
      buffer_(std::move(received)),
      deadline_(read_deadline),
      write_timeout_ms_(static_cast<int>(std::min(write_timeout_s, 3600.0) * 1000)) {}

bool DeadlineStream::is_readable() const {
  if (offset_ < buffer_.size()) return true;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  if (left > 0 && wait_for(fd_, POLLIN, static_cast<int>(std::min<int64_t>(left, INT32_MAX)))) return true;
  timed_out_ = Clock::now() + std::chrono::milliseconds(2) >= deadline_;
  return false;
}

bool DeadlineStream::is_writable() const { return wait_for(fd_, POLLOUT, write_timeout_ms_); }

ssize_t DeadlineStream::read(char* ptr, size_t size) {
  if (offset_ == buffer_.size()) {
    // Rounded up: a wait of the truncated milliseconds would end just before the deadline and the request would
    // look failed (400) instead of late (408). A wait that ends within poll's granularity of it is late.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (left <= 0 || !wait_for(fd_, POLLIN, static_cast<int>(std::min<int64_t>(left, INT32_MAX)))) {
      timed_out_ = Clock::now() + std::chrono::milliseconds(2) >= deadline_;
      return -1;
    }
    buffer_.resize(16384);
    offset_ = 0;
    ssize_t n;
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    buffer_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    if (n <= 0) return n;
  }
  const size_t count = std::min(size, buffer_.size() - offset_);
  std::memcpy(ptr, buffer_.data() + offset_, count);
  offset_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t DeadlineStream::write(const char* ptr, size_t size) {
  if (!wait_for(fd_, POLLOUT, write_timeout_ms_)) return -1;
  ssize_t n;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

void DeadlineStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

void DeadlineStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

bool DeadlineStream::peer_closed() const {
  pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char byte;
  return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

}  // namespace pyramidion::server

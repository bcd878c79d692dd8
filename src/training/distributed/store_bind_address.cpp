#include "pyramidion/training/store_bind_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace pyramidion {
namespace {

struct Target {
  std::mutex mutex;
  std::atomic<bool> active{false};
  uint16_t port = 0;  // host order
  bool has_v4 = false, has_v6 = false;
  in_addr v4{};
  in6_addr v6{};
};

Target& target() {
  static Target t;
  return t;
}

// Resolves host into the first IPv4 and IPv6 addresses it names.
void resolve(const std::string& host, bool& has_v4, in_addr& v4, bool& has_v6, in6_addr& v6) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    throw std::runtime_error("MASTER_ADDR " + host + ": cannot resolve (" + ::gai_strerror(rc) + ")");
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET && !has_v4) {
      v4 = reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
      has_v4 = true;
    } else if (a->ai_family == AF_INET6 && !has_v6) {
      v6 = reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr;
      has_v6 = true;
    }
  }
  ::freeaddrinfo(found);
}

bool narrow(const sockaddr* requested, socklen_t length, uint16_t port, bool has_v4, const in_addr& v4, bool has_v6,
            const in6_addr& v6, sockaddr_storage& out, socklen_t& out_length) {
  if (requested == nullptr) return false;
  if (requested->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(requested);
    if (ntohs(in->sin_port) != port || in->sin_addr.s_addr != htonl(INADDR_ANY) || !has_v4) return false;
    sockaddr_in narrowed = *in;
    narrowed.sin_addr = v4;
    std::memset(&out, 0, sizeof(out));
    std::memcpy(&out, &narrowed, sizeof(narrowed));
    out_length = sizeof(narrowed);
    return true;
  }
  if (requested->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(requested);
    if (ntohs(in6->sin6_port) != port || !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || !(has_v4 || has_v6)) return false;
    sockaddr_in6 narrowed = *in6;
    if (has_v6) {
      narrowed.sin6_addr = v6;
    } else {  // ::ffff:a.b.c.d
      std::memset(&narrowed.sin6_addr, 0, sizeof(narrowed.sin6_addr));
      narrowed.sin6_addr.s6_addr[10] = 0xff;
      narrowed.sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&narrowed.sin6_addr.s6_addr[12], &v4, sizeof(v4));
    }
    std::memset(&out, 0, sizeof(out));
    std::memcpy(&out, &narrowed, sizeof(narrowed));
    out_length = sizeof(narrowed);
    return true;
  }
  return false;
}

}  // namespace

StoreBindScope::StoreBindScope(const std::string& host, int64_t port) {
  Target& t = target();
  bool has_v4 = false, has_v6 = false;
  in_addr v4{};
  in6_addr v6{};
  resolve(host, has_v4, v4, has_v6, v6);
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.active.load()) throw std::logic_error("StoreBindScope: one scope at a time");
  t.port = static_cast<uint16_t>(port);
  t.has_v4 = has_v4;
  t.v4 = v4;
  t.has_v6 = has_v6;
  t.v6 = v6;
  t.active.store(true);
}

StoreBindScope::~StoreBindScope() {
  std::lock_guard<std::mutex> lock(target().mutex);
  target().active.store(false);
}

bool narrowed_store_address(const sockaddr* requested, socklen_t length, const std::string& host, int64_t port,
                            sockaddr_storage& out, socklen_t& out_length) {
  bool has_v4 = false, has_v6 = false;
  in_addr v4{};
  in6_addr v6{};
  resolve(host, has_v4, v4, has_v6, v6);
  return narrow(requested, length, static_cast<uint16_t>(port), has_v4, v4, has_v6, v6, out, out_length);
}

}  // namespace pyramidion

// The interposed bind(): LibTorch's TCPStore calls it through the PLT, so this definition (in libpyramidion,
// loaded before libc) is the one it reaches; everything else passes straight to the system call.
extern "C" int bind(int fd, const sockaddr* address, socklen_t length) noexcept {
  using pyramidion::target;
  if (target().active.load()) {
    sockaddr_storage narrowed{};
    socklen_t narrowed_length = 0;
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(target().mutex);
      const auto& t = target();
      changed = t.active.load() &&
                pyramidion::narrow(address, length, t.port, t.has_v4, t.v4, t.has_v6, t.v6, narrowed, narrowed_length);
    }
    if (changed)
      return static_cast<int>(::syscall(SYS_bind, fd, reinterpret_cast<const sockaddr*>(&narrowed), narrowed_length));
  }
  return static_cast<int>(::syscall(SYS_bind, fd, address, length));
}

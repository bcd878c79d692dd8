#pragma once
// c10d's TCPStore server (LibTorch 1.13 and 2.x alike) listens on the wildcard address (every interface) and has
// no option for a host. While rank 0 makes its store, StoreBindScope narrows a bind() of the wildcard address on
// the store's port to MASTER_ADDR (127.0.0.1 for one machine; rank 0's own address across machines): the
// rendezvous, which is unauthenticated, is then reachable only where the run needs it. Other binds (Gloo's,
// other ports, specific addresses) pass unchanged, and outside a scope every bind() does.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace pyramidion {

class StoreBindScope {
 public:
  // Resolves `host` (throws std::runtime_error naming MASTER_ADDR when it cannot); one scope at a time.
  StoreBindScope(const std::string& host, int64_t port);
  ~StoreBindScope();
  StoreBindScope(const StoreBindScope&) = delete;
  StoreBindScope& operator=(const StoreBindScope&) = delete;
};

// The seam: the address a bind() of `requested` (length `length`) takes while a scope for (host, port) is active,
// written into `out`; false when it is left unchanged. An IPv6 wildcard with an IPv4 host becomes the
// v4-mapped address (::ffff:a.b.c.d: the dual-stack socket then accepts IPv4 on that address only).
bool narrowed_store_address(const sockaddr* requested, socklen_t length, const std::string& host, int64_t port,
                            sockaddr_storage& out, socklen_t& out_length);

}  // namespace pyramidion

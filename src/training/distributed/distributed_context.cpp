#include "pyramidion/training/distributed_context.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "c10d_backend.h"
#include "c10d_gradient_reducer.h"
#include "pyramidion/training/store_bind_address.h"

#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace pyramidion {
namespace {

using distributed::CollectiveBackend;

// An integer environment variable; `fallback` when unset. Throws naming the variable when malformed.
int64_t env_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0')
    throw std::invalid_argument(std::string(name) + "=" + value + ": not an integer");
  return parsed;
}

std::string env_string(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The local address this machine uses to reach `host` (what Gloo binds to, so that peers on other machines or
// network namespaces can connect to it): a UDP socket "connected" to the host sends nothing but picks the route.
std::string local_address_towards(const std::string& host, int64_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("MASTER_ADDR " + host + ": cannot resolve (" + ::gai_strerror(rc) + ")");
  std::string address;
  for (addrinfo* a = found; a != nullptr && address.empty(); a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      char text[INET6_ADDRSTRLEN] = {0};
      const void* raw = local.ss_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (::inet_ntop(local.ss_family, raw, text, sizeof(text)) != nullptr) address = text;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (address.empty()) throw std::runtime_error("MASTER_ADDR " + host + ": no route from this machine");
  return address;
}

std::string choose_backend(const std::string& requested, const torch::Device& device) {
  if (requested == "auto") return device.is_cuda() ? "nccl" : "gloo";
  return requested;
}

std::string port_text(const std::string& host, int64_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Rank 0: whether MASTER_ADDR:MASTER_PORT can be listened on now (the store binds it a moment later). A port held
// by another process (a previous run still up, another program) is named at once instead of after a timeout.
void check_port_free(const DistributedOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(o.master_addr.c_str(), std::to_string(o.master_port).c_str(), &hints, &found);
      rc != 0)
    throw std::runtime_error("MASTER_ADDR " + o.master_addr + ": cannot resolve (" + ::gai_strerror(rc) + ")");
  int error = 0;
  for (addrinfo* a = found; a != nullptr && error == 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM, 0);
    if (fd < 0) continue;
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));  // as the store does: TIME_WAIT is no obstacle
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE) error = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (error != 0)
    throw std::runtime_error(
        fmt::format("rank 0 of {}: rendezvous port {} is in use by another process (a previous "
                    "run still up, or another program): free it or choose another MASTER_PORT",
                    o.world_size, port_text(o.master_addr, o.master_port)));
}

// "1, 3" (at most 8 named, then how many more).
std::string rank_list(const std::vector<int64_t>& ranks) {
  std::string text;
  for (size_t i = 0; i < ranks.size() && i < 8; ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  if (ranks.size() > 8) text += fmt::format(" and {} more", ranks.size() - 8);
  return text;
}

// Connects to (rank 0: serves) the TCPStore, within the timeout whatever the store does on its own (a port held
// by a program that accepts but never answers would keep its handshake waiting): the connection runs on a helper
// thread, which is left behind when the deadline passes (the process is about to fail with the error). Then
// every rank announces itself under its own key and waits, within the same deadline, until all have; while it
// waits it says what for (warnings, so every rank shows them): the address and the ranks missing.
c10::intrusive_ptr<c10d::Store> rendezvous(const DistributedOptions& o, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const std::string where = port_text(o.master_addr, o.master_port);
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  const auto first_note = std::chrono::seconds(2), note_every = std::chrono::seconds(10);
  auto next_note = start + first_note;

  std::unique_ptr<StoreBindScope> narrow;
  if (o.rank == 0) {
    check_port_free(o);
    narrow = std::make_unique<StoreBindScope>(o.master_addr, o.master_port);  // listen on MASTER_ADDR only
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(o.master_port);
  store_options.isServer = o.rank == 0;
  store_options.waitWorkers = false;  // the arrival keys below wait instead, saying for whom
  store_options.timeout = timeout;
  struct Connection {
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    c10::intrusive_ptr<c10d::Store> store;
    std::string error;
  };
  auto connection = std::make_shared<Connection>();
  std::thread([connection, host = o.master_addr, store_options] {
    c10::intrusive_ptr<c10d::Store> store;
    std::string error;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
      // A request that needs an answer: a program that accepts the connection but is not a store never gives
      // one, and the later checks would block on it without a timeout.
      store->add("pyramidion/ping", 1);
    } catch (const std::exception& e) {
      error = distributed::collective_error_text(e);
    }
    std::lock_guard<std::mutex> lock(connection->mutex);
    connection->store = std::move(store);
    connection->error = std::move(error);
    connection->finished = true;
    connection->done.notify_all();
  }).detach();
  {
    std::unique_lock<std::mutex> lock(connection->mutex);
    while (!connection->finished && Clock::now() < deadline) {
      connection->done.wait_until(lock, std::min(deadline, next_note));
      if (!connection->finished && Clock::now() >= next_note && Clock::now() < deadline) {
        spdlog::warn("rank {} of {}: {} the rendezvous at {} ({:.0f} of {} s, --dist-timeout)", o.rank, o.world_size,
                     o.rank == 0 ? "still opening" : "still waiting for rank 0 to answer at", where, elapsed(),
                     o.timeout_seconds);
        next_note = Clock::now() + note_every;
      }
    }
    if (!connection->finished)
      throw std::runtime_error(
          fmt::format("rank {} of {}: rendezvous at {}: {} within {} s (--dist-timeout)", o.rank, o.world_size, where,
                      o.rank == 0 ? "could not open the store" : "rank 0's store did not answer", o.timeout_seconds));
    if (!connection->error.empty())
      throw std::runtime_error(fmt::format("rank {} of {}: rendezvous at {} failed within {} s: {}", o.rank,
                                           o.world_size, where, o.timeout_seconds, connection->error));
  }
  narrow.reset();
  c10::intrusive_ptr<c10d::Store> store = connection->store;

  const std::string prefix = "pyramidion/arrived/";
  std::vector<std::string> keys;
  for (int64_t r = 0; r < o.world_size; ++r) keys.push_back(prefix + std::to_string(r));
  std::vector<int64_t> missing;
  try {
    store->set(keys[static_cast<size_t>(o.rank)], std::vector<uint8_t>{1});
    while (true) {
      missing.clear();
      for (int64_t r = 0; r < o.world_size; ++r)
        if (!store->check({keys[static_cast<size_t>(r)]})) missing.push_back(r);
      if (missing.empty()) break;
      const auto now = Clock::now();
      if (now >= deadline) break;
      if (now >= next_note) {
        spdlog::warn("rank {} of {}: waiting at the rendezvous {} for rank{} {} ({:.0f} of {} s, --dist-timeout)",
                     o.rank, o.world_size, where, missing.size() > 1 ? "s" : "", rank_list(missing), elapsed(),
                     o.timeout_seconds);
        next_note = now + note_every;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("rank {} of {}: rendezvous at {} failed: {}", o.rank, o.world_size, where,
                                         distributed::collective_error_text(e)));
  }
  if (!missing.empty())
    throw std::runtime_error(
        fmt::format("rank {} of {}: rendezvous at {}: rank{} {} did not arrive within {} s "
                    "(--dist-timeout; WORLD_SIZE {}: are all started, with the same "
                    "MASTER_ADDR/MASTER_PORT?)",
                    o.rank, o.world_size, where, missing.size() > 1 ? "s" : "", rank_list(missing), o.timeout_seconds,
                    o.world_size));
  return store;
}

}  // namespace

DistributedOptions DistributedOptions::from_environment() {
  DistributedOptions o;
  o.rank = env_int("RANK", -1);
  o.world_size = env_int("WORLD_SIZE", -1);
  o.local_rank = env_int("LOCAL_RANK", -1);
  o.master_addr = env_string("MASTER_ADDR", "127.0.0.1");
  o.master_port = env_int("MASTER_PORT", 29500);
  return o;
}

void DistributedOptions::set_url(const std::string& url) {
  const std::string scheme = "tcp://";
  const auto colon = url.rfind(':');
  if (url.rfind(scheme, 0) != 0 || colon == std::string::npos || colon < scheme.size())
    throw std::invalid_argument("--dist-url " + url + ": expected tcp://HOST:PORT");
  std::string host = url.substr(scheme.size(), colon - scheme.size());
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]
  const std::string port = url.substr(colon + 1);
  char* end = nullptr;
  const long parsed = std::strtol(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end != '\0' || parsed < 1 || parsed > 65535)
    throw std::invalid_argument("--dist-url " + url + ": expected tcp://HOST:PORT with a port in 1..65535");
  master_addr = host;
  master_port = parsed;
}

void DistributedOptions::validate() const {
  if (world_size < 1)
    throw std::invalid_argument("world size " + std::to_string(world_size) +
                                ": must be >= 1 (WORLD_SIZE or --world-size)");
  if (rank < 0 || rank >= world_size)
    throw std::invalid_argument("rank " + std::to_string(rank) + ": must be in 0.." + std::to_string(world_size - 1) +
                                " (RANK or --rank)");
  if (master_addr.empty()) throw std::invalid_argument("MASTER_ADDR: empty");
  if (master_port < 1 || master_port > 65535)
    throw std::invalid_argument("MASTER_PORT " + std::to_string(master_port) + ": must be in 1..65535");
  if (backend != "auto" && backend != "gloo" && backend != "nccl")
    throw std::invalid_argument("--dist-backend " + backend + ": expected auto, gloo or nccl");
  if (!(timeout_seconds > 0)) throw std::invalid_argument("--dist-timeout: must be > 0 seconds");
  if (!(bucket_mb > 0)) throw std::invalid_argument("--bucket-mb: must be > 0");
}

bool distributed_environment_present() { return std::getenv("WORLD_SIZE") != nullptr; }

std::vector<std::string> compiled_distributed_backends() {
  std::vector<std::string> backends;
#ifdef USE_C10D_GLOO
  backends.push_back("gloo");
#endif
#ifdef USE_C10D_NCCL
  backends.push_back("nccl");
#endif
  return backends;
}

struct DistributedContext::Impl {
  DistributedOptions options;
  std::string backend_name;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> backend;
  std::shared_ptr<distributed::C10dGradientReducer> reducer;
};

DistributedContext::DistributedContext(const DistributedOptions& options, const torch::Device& device)
    : impl_(std::make_unique<Impl>()) {
  options.validate();
  Impl& s = *impl_;
  s.options = options;
  if (s.options.local_rank < 0) s.options.local_rank = s.options.rank;
  s.backend_name = choose_backend(options.backend, device);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000.0));
  if (s.backend_name == "nccl" && !device.is_cuda())
    throw std::runtime_error("--dist-backend nccl needs a CUDA device (training.device is " + device.str() + ")");
  if (s.backend_name == "gloo" && device.is_cuda())
    spdlog::warn("--dist-backend gloo with {}: gradients go through host memory (nccl is faster)", device.str());
#ifndef USE_C10D_GLOO
  if (s.backend_name == "gloo")
    throw std::runtime_error(
        "this build has no c10d Gloo backend (it was built without gloo headers: install "
        "libgloo-dev and rebuild with -DPYRAMIDION_WITH_GLOO=ON); available: " +
        (compiled_distributed_backends().empty() ? std::string("none") : compiled_distributed_backends().front()));
#endif
#ifndef USE_C10D_NCCL
  if (s.backend_name == "nccl")
    throw std::runtime_error(
        "this build has no c10d NCCL backend (it needs a CUDA LibTorch and "
        "-DPYRAMIDION_WITH_NCCL=ON); use --dist-backend gloo");
#endif

  s.store = rendezvous(options, timeout);

  distributed::C10dReducerOptions reducer_options;
  reducer_options.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(options.bucket_mb * (1 << 20)));
  reducer_options.timeout = timeout;
  try {
#ifdef USE_C10D_GLOO
    if (s.backend_name == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      gloo_options->devices.push_back(interface != nullptr && *interface != '\0'
                                          ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                                          : c10d::ProcessGroupGloo::createDeviceForHostname(
                                                local_address_towards(options.master_addr, options.master_port)));
      s.backend = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, static_cast<int>(options.rank),
                                                              static_cast<int>(options.world_size), gloo_options);
      reducer_options.scalar_device = torch::kCPU;
    }
#endif
#ifdef USE_C10D_NCCL
    if (s.backend_name == "nccl") {
      // Without these, a dead peer leaves NCCL kernels waiting forever; with them wait() honours the timeout.
      ::setenv("NCCL_BLOCKING_WAIT", "1", 0);
      ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
      ::setenv("NCCL_ASYNC_ERROR_HANDLING", "1", 0);
      ::setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", 0);
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      s.backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, static_cast<int>(options.rank),
                                                              static_cast<int>(options.world_size), nccl_options);
      reducer_options.scalar_device = device;
    }
#endif
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("rank {}: making the {} process group failed: {}", options.rank,
                                         s.backend_name, distributed::collective_error_text(e)));
  }
  if (!s.backend) throw std::logic_error("no process group made for backend " + s.backend_name);
  s.reducer = std::make_shared<distributed::C10dGradientReducer>(s.backend, reducer_options);
}

DistributedContext::~DistributedContext() = default;

int64_t DistributedContext::rank() const { return impl_->options.rank; }
int64_t DistributedContext::world_size() const { return impl_->options.world_size; }
int64_t DistributedContext::local_rank() const { return impl_->options.local_rank; }
const std::string& DistributedContext::backend() const { return impl_->backend_name; }

std::string DistributedContext::describe() const {
  return fmt::format("rank {} of {} ({}, master {}:{})", rank(), world_size(), backend(), impl_->options.master_addr,
                     impl_->options.master_port);
}

std::shared_ptr<GradientReducer> DistributedContext::reducer() { return impl_->reducer; }
void DistributedContext::barrier() { impl_->reducer->barrier(); }
int64_t DistributedContext::gradient_buckets() const { return impl_->reducer->bucket_count(); }
int64_t DistributedContext::buckets_started_during_backward() const {
  return impl_->reducer->buckets_started_in_backward();
}

}  // namespace pyramidion

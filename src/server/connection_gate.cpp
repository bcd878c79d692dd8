#include "server/connection_gate.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "server/request_id.h"

namespace pyramidion::server {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// Best effort, never blocks: the socket's buffer takes a short answer whole.
void send_all(int fd, const std::string& text) {
  size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// request_id: the answer's X-Request-Id (a new one when the request head was never read).
std::string http_answer(int status, const std::string& body, bool retry_after = false,
                        const std::string& request_id = new_request_id()) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         (retry_after ? "\r\nRetry-After: 1" : "") + "\r\n" + kRequestIdHeader + ": " + request_id +
         "\r\nConnection: close\r\n\r\n" + body;
}

void close_socket(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

// "GET /health" (any query), the one route the gate answers itself.
bool is_health(const std::string& head) {
  for (const char* prefix : {"GET /health ", "GET /health?"})
    if (head.compare(0, std::char_traits<char>::length(prefix), prefix) == 0) return true;
  return false;
}

}  // namespace

ConnectionGate::ConnectionGate(GateOptions options, Serve serve, Answered on_answered)
    : options_(options), serve_(std::move(serve)), on_answered_(std::move(on_answered)) {
  if (!(options_.request_timeout_s > 0)) throw std::invalid_argument("request_timeout_s must be > 0");
  if (options_.workers < 1) throw std::invalid_argument("workers must be >= 1");
  if (::pipe2(wake_, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("connection gate: cannot create a pipe");
  poller_ = std::thread([this] { poll_loop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

ConnectionGate::~ConnectionGate() {
  shutdown();
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

void ConnectionGate::admit(int fd) {
  bool refuse = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refuse = stopping_ || open_ >= options_.max_connections;
    if (!refuse) {
      ++open_;
      const auto timeout = std::chrono::duration<double>(std::min(options_.request_timeout_s, 1e6));
      admitted_.push_back({fd, {}, Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout)});
    }
  }
  if (refuse) {
    send_all(fd, http_answer(503, R"({"error":"too many open connections"})", true));
    close_socket(fd);
    return;
  }
  const char byte = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(wake_[1], &byte, 1);
}

int64_t ConnectionGate::head_timeouts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return head_timeouts_;
}

void ConnectionGate::answer_and_close(int fd, int status, const std::string& reason) {
  send_all(fd, http_answer(status, "{\"error\":\"" + reason + "\"}"));
  close_socket(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  --open_;
}

bool ConnectionGate::receive(Waiting& w) {
  char buffer[4096];
  for (;;) {
    const size_t room = options_.max_head_bytes + 1 - std::min(w.received.size(), options_.max_head_bytes);
    const ssize_t n = ::recv(w.fd, buffer, std::min(sizeof(buffer), room), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n <= 0) {  // the client left (or the socket failed) before its head was complete
      close_socket(w.fd);
      std::lock_guard<std::mutex> lock(mutex_);
      --open_;
      return true;
    }
    const size_t searched_from = w.received.size() >= 3 ? w.received.size() - 3 : 0;
    w.received.append(buffer, static_cast<size_t>(n));
    if (w.received.find("\r\n\r\n", searched_from) != std::string::npos) break;
    if (w.received.size() > options_.max_head_bytes) {
      answer_and_close(w.fd, 431, "request head larger than " + std::to_string(options_.max_head_bytes) + " bytes");
      return true;
    }
  }
  if (is_health(w.received)) {
    send_all(w.fd, http_answer(200, R"({"status":"ok"})", false, request_id_from_head(w.received)));
    close_socket(w.fd);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --open_;
    }
    if (on_answered_) on_answered_("/health", 200);
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.emplace_back(ReadyConnection{w.fd, std::move(w.received), w.deadline}, Clock::now());
  }
  ready_changed_.notify_one();
  return true;
}

void ConnectionGate::poll_loop() {
  std::vector<Waiting> waiting;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
      for (auto& w : admitted_) waiting.push_back(std::move(w));
      admitted_.clear();
    }
    // Heads past their deadline: 408.
    const auto now = Clock::now();
    int64_t expired = 0;
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (it->deadline <= now) {
        answer_and_close(it->fd, 408, "request not received within the request deadline");
        ++expired;
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (expired > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      head_timeouts_ += expired;
    }
    if (expired > 0 && on_answered_)
      for (int64_t i = 0; i < expired; ++i) on_answered_("other", 408);
    auto next = now + std::chrono::milliseconds(200);
    for (const auto& w : waiting) next = std::min(next, w.deadline);
    fds.assign(1, pollfd{wake_[0], POLLIN, 0});
    for (const auto& w : waiting) fds.push_back(pollfd{w.fd, static_cast<short>(POLLIN | POLLRDHUP), 0});
    const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait_ms, 0)));
    if (n <= 0) continue;
    if (fds[0].revents) {
      char drain[256];
      while (::read(wake_[0], drain, sizeof(drain)) > 0) {
      }
    }
    std::vector<Waiting> still;
    still.reserve(waiting.size());
    for (size_t i = 0; i < waiting.size(); ++i) {
      if (fds[i + 1].revents == 0 || !receive(waiting[i])) still.push_back(std::move(waiting[i]));
    }
    waiting.swap(still);
  }
  for (auto& w : waiting) close_socket(w.fd);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& w : admitted_) close_socket(w.fd);
  admitted_.clear();
}

void ConnectionGate::work() {
  for (;;) {
    ReadyConnection connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_changed_.wait(lock, [&] { return !ready_.empty() || stopping_; });
      if (ready_.empty()) return;
      connection = std::move(ready_.front().first);
      connection.deadline += Clock::now() - ready_.front().second;  // waiting for a worker is not the client's time
      ready_.pop_front();
    }
    serve_(std::move(connection));  // closes the socket
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
  }
}

void ConnectionGate::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !poller_.joinable()) return;
    stopping_ = true;
  }
  const char byte = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(wake_[1], &byte, 1);
  ready_changed_.notify_all();
  if (poller_.joinable()) poller_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

}  // namespace pyramidion::server

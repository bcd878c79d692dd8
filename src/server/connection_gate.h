#pragma once
// The connection gate in front of the HTTP workers. Accepted sockets wait here, on one poll() thread, until
// their request head (request line + headers) has arrived, so a slow or silent client never holds a worker:
//   - a head not complete within the request deadline is answered 408 and closed (one deadline for the whole
//     head, not per read); a head larger than max_head_bytes: 431;
//   - `GET /health` is answered right here (liveness never waits behind workers or the generation queue);
//   - every other request goes to one of `workers` threads with what was received and its deadline (the body
//     must arrive before it too: DeadlineStream).
// More than max_connections open connections: the newest is answered 503 and closed.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pyramidion::server {

struct GateOptions {
  double request_timeout_s = 10;  // from accept to the last byte of the body (workers' queueing time excluded)
  int workers = 32;
  size_t max_head_bytes = 16384;
  size_t max_connections = 1024;
};

// A connection whose head has arrived: the worker serves it and closes fd.
struct ReadyConnection {
  int fd = -1;
  std::string received;  // the bytes read so far (the head, perhaps part of the body)
  std::chrono::steady_clock::time_point deadline;
};

class ConnectionGate {
 public:
  using Clock = std::chrono::steady_clock;
  using Serve = std::function<void(ReadyConnection)>;
  // on_answered(path, status): called for each request the gate answers itself (metrics).
  using Answered = std::function<void(const std::string& path, int status)>;

  ConnectionGate(GateOptions options, Serve serve, Answered on_answered);
  ~ConnectionGate();  // shutdown()
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Takes ownership of an accepted socket. Thread-safe; never blocks on the client.
  void admit(int fd);
  // Closes the connections still waiting for their head, lets the workers finish what they hold, joins.
  void shutdown();

  int64_t head_timeouts() const;  // connections answered 408 here

 private:
  struct Waiting {
    int fd;
    std::string received;
    Clock::time_point deadline;
  };
  void poll_loop();
  void work();
  // Reads what fd has; true when the connection is finished with (answered, dispatched or closed).
  bool receive(Waiting& w);
  void answer_and_close(int fd, int status, const std::string& reason);

  GateOptions options_;
  Serve serve_;
  Answered on_answered_;
  int wake_[2] = {-1, -1};
  mutable std::mutex mutex_;
  std::condition_variable ready_changed_;
  std::vector<Waiting> admitted_;                                    // handed over by admit(), not yet polled
  std::deque<std::pair<ReadyConnection, Clock::time_point>> ready_;  // with the time it was queued
  size_t open_ = 0;  // connections held (waiting, ready or being served)
  int64_t head_timeouts_ = 0;
  bool stopping_ = false;
  std::thread poller_;
  std::vector<std::thread> workers_;
};

}  // namespace pyramidion::server

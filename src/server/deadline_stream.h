#pragma once
// One HTTP connection as httplib sees it (httplib::Stream), with a whole-request deadline: the bytes the
// connection gate has already received (the request head) are read first, then the socket, and no read waits
// past the deadline, however slowly the client trickles its body (httplib's own timeouts are per read).
#include <httplib.h>

#include <chrono>
#include <string>

namespace pyramidion::server {

class DeadlineStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  // Does not own `fd`. `received`: bytes already read from it. Writes wait at most write_timeout_s each.
  DeadlineStream(int fd, std::string received, Clock::time_point read_deadline, double write_timeout_s);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

  // A read gave up because the deadline had passed (the request is answered 408).
  bool timed_out() const { return timed_out_; }
  // The client closed its end (checked without blocking; the request must have been read).
  bool peer_closed() const;

 private:
  int fd_;
  std::string buffer_;
  size_t offset_ = 0;
  Clock::time_point deadline_;
  int write_timeout_ms_;
  mutable bool timed_out_ = false;  // set by the const is_readable() too
};

}  // namespace pyramidion::server

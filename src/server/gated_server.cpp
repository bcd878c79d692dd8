#include "server/gated_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include "server/deadline_stream.h"

namespace pyramidion::server {
namespace {

thread_local const DeadlineStream* current_stream = nullptr;

// httplib's accept loop calls process_and_close_socket through its task queue; it only admits to the gate,
// which never blocks, so the loop runs it in place.
class InlineTaskQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

}  // namespace

GatedServer::GatedServer(GateOptions gate, double write_timeout_s, ConnectionGate::Answered on_gate_answer)
    : write_timeout_s_(write_timeout_s) {
  new_task_queue = [] { return new InlineTaskQueue(); };
  gate_ = std::make_unique<ConnectionGate>(
      gate, [this](ReadyConnection connection) { serve(std::move(connection)); }, std::move(on_gate_answer));
}

GatedServer::~GatedServer() { shutdown_gate(); }

void GatedServer::shutdown_gate() { gate_->shutdown(); }

bool GatedServer::process_and_close_socket(socket_t sock) {
  gate_->admit(sock);
  return true;
}

void GatedServer::serve(ReadyConnection connection) {
  DeadlineStream stream(connection.fd, std::move(connection.received), connection.deadline, write_timeout_s_);
  current_stream = &stream;
  bool connection_closed = false;
  // One request per connection (close_connection): a kept-alive connection would hold a worker while idle.
  process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
  current_stream = nullptr;
  ::shutdown(connection.fd, SHUT_RDWR);
  ::close(connection.fd);
}

bool GatedServer::current_request_timed_out() { return current_stream && current_stream->timed_out(); }

bool GatedServer::current_client_gone() { return current_stream && current_stream->peer_closed(); }

}  // namespace pyramidion::server

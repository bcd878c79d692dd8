#pragma once
// httplib::Server behind a ConnectionGate: the accept loop hands each socket to the gate (instead of httplib's
// thread pool); the gate's workers run httplib's request processing on a DeadlineStream. Handlers may ask about
// the connection they are answering (current_request_timed_out, current_client_gone).
#include <httplib.h>

#include <memory>

#include "server/connection_gate.h"

namespace pyramidion::server {

class GatedServer : public httplib::Server {
 public:
  GatedServer(GateOptions gate, double write_timeout_s, ConnectionGate::Answered on_gate_answer);
  ~GatedServer() override;

  // Closes the connections waiting in the gate and joins its workers (after listen returned).
  void shutdown_gate();
  const ConnectionGate& gate() const { return *gate_; }

  // On a handler's thread: the request's body missed its deadline (answer 408).
  static bool current_request_timed_out();
  // On a handler's thread: the client has closed the connection it is waiting on.
  static bool current_client_gone();

 private:
  bool process_and_close_socket(socket_t sock) override;  // called by the accept loop: to the gate
  void serve(ReadyConnection connection);                 // on a gate worker

  double write_timeout_s_;
  std::unique_ptr<ConnectionGate> gate_;
};

}  // namespace pyramidion::server

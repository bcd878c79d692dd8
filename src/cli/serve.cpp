// `pyramidion serve`: the HTTP summarization service (src/server/, docs/serving.md) over one loaded model.
// stdout stays empty; the "listening on" line and the logs go to stderr.
#include <signal.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "command.h"
#include "model_loading.h"
#include "numeric_checks.h"
#include "pyramidion/util/atomic_file.h"
#include "server/http_service.h"

namespace pyramidion::cli {
namespace {

struct ServeOptions {
  std::string model;
  SummarizerOptions loading;
  server::ServiceOptions service;
  std::string port_file;         // the bound port is written here (for scripts using --port 0)
  double shutdown_grace_s = 30;  // after SIGTERM/SIGINT, in-flight requests get this long
};

volatile std::sig_atomic_t g_signal = 0;

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

// The port file follows the output rule of every command (util/atomic_file.h: a regular file is replaced through a
// temporary file, a FIFO written through); a failure is the command's error (a script waiting for the file would
// otherwise wait forever).
void write_port_file(const std::string& path, int port) {
  try {
    pyramidion::write_file_atomically(path, std::to_string(port) + "\n");
  } catch (const std::exception& e) {
    throw CommandError(std::string("--port-file ") + e.what());
  }
}

void run(ServeOptions o) {
  // The handler only records the signal (any thread may take it); the watcher thread below acts on it.
  struct sigaction action {};
  action.sa_handler = [](int sig) { g_signal = sig; };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  spdlog::set_default_logger(spdlog::stderr_color_mt("serve"));  // stdout carries nothing

  if (!is_loopback(o.service.host))
    spdlog::warn("listening on {}: not loopback, reachable from other machines", o.service.host);
  const Summarizer summarizer = load_summarizer(o.model, o.loading);
  std::unique_ptr<server::HttpService> service;
  int port = 0;
  try {
    service = std::make_unique<server::HttpService>(summarizer, o.service);
    port = service->bind();
  } catch (const std::exception& e) {
    throw CommandError(e.what());
  }
  if (!o.port_file.empty()) write_port_file(o.port_file, port);
  const std::string host = o.service.host.find(':') != std::string::npos ? "[" + o.service.host + "]" : o.service.host;
  std::cerr << "pyramidion serve: listening on http://" << host << ":" << port << std::endl;

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    bool signalled = false;
    auto grace_end = std::chrono::steady_clock::now();
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int sig = g_signal;
      if (sig != 0) {
        g_signal = 0;
        if (signalled) {
          std::cerr << "pyramidion serve: second signal, exiting now" << std::endl;
          std::_Exit(1);
        }
        signalled = true;
        spdlog::info("signal {}: no new connections; finishing the requests in flight", sig);
        grace_end = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(o.shutdown_grace_s));
        service->stop();
      }
      if (signalled) service->stop();  // again each tick: a stop racing the start of listening is not lost
      if (signalled && std::chrono::steady_clock::now() > grace_end) {
        std::cerr << "pyramidion serve: requests still running after --shutdown-grace-s " << o.shutdown_grace_s
                  << " s, exiting" << std::endl;
        std::_Exit(1);
      }
    }
  });
  service->serve();
  finished = true;
  watcher.join();
  spdlog::info("stopped after {} batches", service->queue().batches_run());
}

}  // namespace

PYRAMIDION_COMMAND("serve", [](CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "HTTP summarization service (POST /v1/summarize; see docs/serving.md)");
  cmd->add_option("-m,--model", o->model, "model file (from `train` or `demo`)")->required();
  add_model_loading_options(*cmd, o->loading);
  auto& s = o->service;
  cmd->add_option("--host", s.host, "address to listen on (loopback unless you mean otherwise)")->capture_default_str();
  cmd->add_option("--port", s.port, "TCP port; 0 = any free port (see the \"listening on\" line or --port-file)")
      ->check(number_range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--port-file", o->port_file, "write the bound port to this file");
  cmd->add_option("--max-batch-documents", s.batching.max_batch_documents,
                  "documents per generation batch (1 = no batching)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", s.batching.max_wait_ms, "how long a request waits for others to batch with")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--max-queue", s.batching.max_queue, "documents waiting at most; more get 503 + Retry-After")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", s.max_body_bytes, "larger request bodies get 413")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-document-tokens", s.max_document_tokens,
                  "documents are truncated to this many tokens (\"truncated\": true); 0 = the model's limit")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--max-documents-per-request", s.limits.max_documents, "more documents in one request get 413")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-beam", s.limits.max_beam, "largest beam a request may ask for")
      ->check(number_range(1, static_cast<double>(kMaxBeam)))
      ->capture_default_str();
  cmd->add_option("--max-request-beams", s.limits.max_beam_rows,
                  "documents x beam in one request at most (its generation work); more get 413")
      ->check(number_range(1, 1 << 20))
      ->capture_default_str();
  // Upper bounds: a deadline must not overflow the clock, a thread count must not exhaust the process.
  cmd->add_option("--timeout-s", s.timeout_s, "a request not answered by then gets 504 (its generation is cancelled)")
      ->check(finite_number_check(0, false, 86400, "in (0, 86400]"))
      ->capture_default_str();
  cmd->add_option("--request-timeout-s", s.request_timeout_s,
                  "the whole request (headers and body) must arrive within this; otherwise 408")
      ->check(finite_number_check(0, false, 86400, "in (0, 86400]"))
      ->capture_default_str();
  cmd->add_option("--workers", s.batching.workers, "generation batches run at once")
      ->check(number_range(1, 256))
      ->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads, "requests served at once")
      ->check(number_range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--max-connections", s.max_connections, "open connections at most; more get 503")
      ->check(number_range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--gen-max-tokens", s.source_tokens_per_batch, "source tokens per generation batch")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--model-name", s.model_name, "name reported in responses (default: the model file's name)");
  cmd->add_option("--shutdown-grace-s", o->shutdown_grace_s,
                  "after SIGTERM/SIGINT, in-flight requests get this long before the process exits (code 1)")
      ->check(finite_number_check(0, false, 86400, "in (0, 86400]"))
      ->capture_default_str();
  cmd->callback([o] { run(*o); });
});

}  // namespace pyramidion::cli

#pragma once
// The HTTP summarization service over one loaded Summarizer: routes, limits, error statuses, metrics,
// batching (server/batching_queue.h) and graceful stop. Loopback by default. See docs/serving.md.
#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pyramidion/decoding/summarizer.h"
#include "server/batching_queue.h"
#include "server/metrics_registry.h"
#include "server/summarize_request.h"

namespace httplib {
struct Response;
}

namespace pyramidion::server {

class GatedServer;

struct ServiceOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = an ephemeral port (bind() returns it)
  BatchingOptions batching;
  RequestLimits limits;
  int64_t max_body_bytes = 8 << 20;  // larger bodies get 413
  int64_t max_document_tokens = 0;   // > 0: documents are truncated to this many tokens ("truncated": true)
  double timeout_s = 60;             // a request not answered by then gets 504 (its generation is cancelled)
  double request_timeout_s = 10;     // the whole request (head + body) must arrive by then: 408
  int http_threads = 32;             // requests served at once (their heads have arrived; more wait for a worker)
  int64_t max_connections = 1024;    // open connections at most; more get 503
  int64_t source_tokens_per_batch = 16384;  // GenerationOptions::max_source_tokens_per_batch
  std::string model_name;                   // reported in responses; default: the model file's name
};

class HttpService {
 public:
  HttpService(const Summarizer& summarizer, ServiceOptions options);
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Binds host:port; returns the port (the chosen one for port 0). Throws std::runtime_error when it cannot.
  int bind();
  // Serves until stop(); then finishes the requests in flight and the queued batches, and returns.
  void serve();
  // Thread-safe, idempotent: stop accepting connections (serve() returns once in-flight requests are done).
  void stop();
  bool stopping() const { return stopping_.load(); }

  MetricsRegistry& metrics() { return metrics_; }
  const BatchingQueue& queue() const { return *queue_; }

 private:
  void install_routes();
  // A summary's JSON item (summary, score, tokens, source_tokens, truncated), counted in the metrics.
  nlohmann::json summary_item(const DocumentSummary& summary);
  // "stream": true: queues the request with a token hook and answers as server-sent events (token ..., summary).
  void stream_summary(SummarizeRequest& request, httplib::Response& res, std::chrono::steady_clock::time_point deadline,
                      const std::shared_ptr<std::atomic<bool>>& cancelled);
  struct Metrics;
  const Summarizer& summarizer_;
  ServiceOptions options_;
  GenerationOptions defaults_;
  MetricsRegistry metrics_;
  std::unique_ptr<Metrics> m_;
  std::unique_ptr<BatchingQueue> queue_;
  std::unique_ptr<GatedServer> http_;
  std::atomic<bool> stopping_{false};
  bool bound_ = false;
};

}  // namespace pyramidion::server

#pragma once
// Dynamic batching: concurrent requests wait in one queue; W workers each take the oldest request plus every
// later one with the same generation options (up to max_batch_documents documents, waiting at most max_wait_ms
// after the oldest arrived), run ONE summarize call on them, and hand each caller its own results.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pyramidion/decoding/summarizer.h"

namespace pyramidion::server {

struct BatchingOptions {
  int64_t max_batch_documents = 16;  // documents per generation batch (1 = no batching: a request at a time)
  int64_t max_wait_ms = 10;          // how long the oldest request waits for company
  int64_t max_queue = 256;           // documents waiting at most; more -> QueueFull
  int workers = 1;                   // batches generated at once
};

// The queue holds max_queue documents already (the caller answers 503 with Retry-After).
struct QueueFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// shutdown() has begun: no new work is accepted.
struct QueueClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The request's deadline passed before a worker reached it (it was not generated).
struct DeadlineExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Exact equality of every field: only requests that decode identically share a batch.
bool same_generation(const GenerationOptions& a, const GenerationOptions& b);

class BatchingQueue {
 public:
  using Clock = std::chrono::steady_clock;
  // Summarizes a batch: documents in, one result each, same order (Summarizer::summarize in the server).
  using BatchFunction =
      std::function<std::vector<DocumentSummary>(const std::vector<std::string>&, const GenerationOptions&)>;
  // Called by a worker before each batch runs: its documents, and each of its requests' seconds in the queue.
  using BatchObserver = std::function<void(int64_t documents, const std::vector<double>& queue_seconds)>;
  // Called after a batch was generated (before its callers get the results): the seconds generation took.
  using GenerationObserver = std::function<void(double seconds)>;

  BatchingQueue(BatchFunction summarize, BatchingOptions options, BatchObserver on_batch = {},
                GenerationObserver on_generated = {});
  ~BatchingQueue();  // shutdown()
  BatchingQueue(const BatchingQueue&) = delete;
  BatchingQueue& operator=(const BatchingQueue&) = delete;

  // Queues one request's documents; the future holds their results in order, or QueueFull / QueueClosed
  // (thrown here) / DeadlineExceeded / GenerationCancelled / the batch function's exception. `cancelled` (may be
  // null): the caller sets it when nobody waits for the answer any more (the client left). A request cancelled or
  // past its deadline before its batch starts is not generated; a running batch is cancelled (the batch function
  // gets GenerationOptions::search.cancelled) once every request in it is cancelled or past its deadline.
  std::future<std::vector<DocumentSummary>> submit(std::vector<std::string> documents, const GenerationOptions& options,
                                                   Clock::time_point deadline,
                                                   std::shared_ptr<const std::atomic<bool>> cancelled = nullptr);

  int64_t queued_documents() const;  // waiting, not yet taken by a worker
  int64_t batches_run() const;

  // Stops accepting (QueueClosed) and waiting for company: what is queued is generated at once. Returns at once.
  void close();
  // close(), then lets the workers finish every queued request and joins them. Idempotent.
  void shutdown();

 private:
  struct Pending {
    std::vector<std::string> documents;
    GenerationOptions options;
    Clock::time_point enqueued, deadline;
    std::shared_ptr<const std::atomic<bool>> cancelled;
    std::promise<std::vector<DocumentSummary>> promise;
  };
  void work();
  // Waits (lock held) until the oldest request's batch is full or its wait is over, then removes the batch.
  std::vector<Pending> take_batch(std::unique_lock<std::mutex>& lock);
  int64_t matching_documents(const GenerationOptions& options) const;

  BatchFunction summarize_;
  BatchingOptions options_;
  BatchObserver on_batch_;
  GenerationObserver on_generated_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Pending> pending_;
  int64_t queued_documents_ = 0;
  int64_t batches_run_ = 0;
  bool collecting_ = false;  // one worker at a time assembles a batch; the others generate
  bool closing_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace pyramidion::server

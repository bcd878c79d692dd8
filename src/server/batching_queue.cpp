#include "server/batching_queue.h"

namespace pyramidion::server {

bool same_generation(const GenerationOptions& a, const GenerationOptions& b) {
  if (a.search.on_token || b.search.on_token) return false;  // a streaming request's tokens are its own: it runs alone
  return same_generation_options(a, b);
}

BatchingQueue::BatchingQueue(BatchFunction summarize, BatchingOptions options, BatchObserver on_batch,
                             GenerationObserver on_generated)
    : summarize_(std::move(summarize)),
      options_(options),
      on_batch_(std::move(on_batch)),
      on_generated_(std::move(on_generated)) {
  if (options_.max_batch_documents < 1) throw std::invalid_argument("max_batch_documents must be >= 1");
  if (options_.max_wait_ms < 0) throw std::invalid_argument("max_wait_ms must be >= 0");
  if (options_.max_queue < 1) throw std::invalid_argument("max_queue must be >= 1");
  if (options_.workers < 1) throw std::invalid_argument("workers must be >= 1");
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

BatchingQueue::~BatchingQueue() { shutdown(); }

std::future<std::vector<DocumentSummary>> BatchingQueue::submit(std::vector<std::string> documents,
                                                                const GenerationOptions& options,
                                                                Clock::time_point deadline,
                                                                std::shared_ptr<const std::atomic<bool>> cancelled) {
  Pending request;
  request.cancelled = std::move(cancelled);
  request.options = options;
  request.enqueued = Clock::now();
  request.deadline = deadline;
  auto future = request.promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) throw QueueClosed("the server is shutting down");
    const auto count = static_cast<int64_t>(documents.size());
    if (queued_documents_ + count > options_.max_queue)
      throw QueueFull("queue full (" + std::to_string(queued_documents_) + " of " + std::to_string(options_.max_queue) +
                      " documents waiting)");
    request.documents = std::move(documents);
    queued_documents_ += count;
    pending_.push_back(std::move(request));
  }
  changed_.notify_all();
  return future;
}

int64_t BatchingQueue::queued_documents() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_documents_;
}

int64_t BatchingQueue::batches_run() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return batches_run_;
}

int64_t BatchingQueue::matching_documents(const GenerationOptions& options) const {
  int64_t n = 0;
  for (const auto& p : pending_)
    if (same_generation(p.options, options)) n += static_cast<int64_t>(p.documents.size());
  return n;
}

std::vector<BatchingQueue::Pending> BatchingQueue::take_batch(std::unique_lock<std::mutex>& lock) {
  collecting_ = true;
  const auto wait_until = pending_.front().enqueued + std::chrono::milliseconds(options_.max_wait_ms);
  const GenerationOptions options = pending_.front().options;
  // A streaming request (a token hook) runs alone and at once: no other request shares its tokens.
  const bool alone = static_cast<bool>(options.search.on_token);
  // Only this worker removes requests while collecting_, so the oldest stays at the front.
  while (!alone && !closing_ && matching_documents(options) < options_.max_batch_documents && Clock::now() < wait_until)
    changed_.wait_until(lock, wait_until);
  std::vector<Pending> batch;
  int64_t documents = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto count = static_cast<int64_t>(it->documents.size());
    const bool fits = batch.empty() || documents + count <= options_.max_batch_documents;
    // The oldest (the first visited) is always taken; later ones when they decode the same way.
    if ((batch.empty() || same_generation(it->options, options)) && fits) {
      documents += count;
      queued_documents_ -= count;
      batch.push_back(std::move(*it));
      it = pending_.erase(it);
      if (documents >= options_.max_batch_documents) break;
    } else {
      ++it;
    }
  }
  collecting_ = false;
  return batch;
}

void BatchingQueue::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return (!pending_.empty() && !collecting_) || (closing_ && pending_.empty()); });
    if (pending_.empty()) return;  // closing and drained
    std::vector<Pending> batch = take_batch(lock);
    ++batches_run_;
    lock.unlock();
    changed_.notify_all();  // the next worker may collect

    // Requests whose caller has given up are answered without generating them.
    const auto now = Clock::now();
    std::vector<Pending*> live;
    std::vector<std::string> documents;
    for (auto& p : batch) {
      if (p.deadline <= now) {
        p.promise.set_exception(std::make_exception_ptr(DeadlineExceeded("timed out in the queue")));
        continue;
      }
      if (p.cancelled && p.cancelled->load()) {
        p.promise.set_exception(std::make_exception_ptr(GenerationCancelled()));
        continue;
      }
      live.push_back(&p);
      for (auto& d : p.documents) documents.push_back(std::move(d));
    }
    if (!live.empty()) {
      if (on_batch_) {
        std::vector<double> queue_seconds;
        for (auto* p : live) queue_seconds.push_back(std::chrono::duration<double>(now - p->enqueued).count());
        on_batch_(static_cast<int64_t>(documents.size()), queue_seconds);
      }
      // The batch stops between decoding steps once nobody waits for any of its requests.
      std::vector<std::pair<std::shared_ptr<const std::atomic<bool>>, Clock::time_point>> waiting;
      for (auto* p : live) waiting.emplace_back(p->cancelled, p->deadline);
      GenerationOptions options = live.front()->options;
      options.sampling_streams.clear();  // each document samples as if its request ran alone
      for (auto* p : live)
        for (size_t i = 0; i < p->documents.size(); ++i) options.sampling_streams.push_back(static_cast<int64_t>(i));
      options.search.cancelled = [waiting] {
        const auto now = Clock::now();
        for (const auto& [flag, deadline] : waiting)
          if (now < deadline && !(flag && flag->load())) return false;
        return true;
      };
      try {
        const auto started = Clock::now();
        auto results = summarize_(documents, options);
        if (results.size() != documents.size()) throw std::logic_error("batch function returned a wrong count");
        if (on_generated_) on_generated_(std::chrono::duration<double>(Clock::now() - started).count());
        size_t next = 0;
        for (auto* p : live) {
          std::vector<DocumentSummary> mine;
          for (size_t i = 0; i < p->documents.size(); ++i) mine.push_back(std::move(results[next++]));
          p->promise.set_value(std::move(mine));
        }
      } catch (...) {
        for (auto* p : live) p->promise.set_exception(std::current_exception());
      }
    }
    lock.lock();
  }
}

void BatchingQueue::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
}

void BatchingQueue::shutdown() {
  close();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

}  // namespace pyramidion::server

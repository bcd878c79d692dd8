#include "pyramidion/util/thread_pool.h"

namespace pyramidion {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_indices() {
  // Called with mutex_ held; takes one index at a time (documents differ a lot in length).
  std::unique_lock<std::mutex> lock(mutex_, std::adopt_lock);
  while (next_index_ < job_size_ && !error_) {
    size_t i = next_index_++;
    const auto* job = job_;
    lock.unlock();
    try {
      (*job)(i);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      continue;
    }
    lock.lock();
  }
  lock.release();
}

void ThreadPool::worker_loop() {
  size_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    ++busy_;
    lock.release();  // still locked: run_indices adopts it
    run_indices();
    lock = std::unique_lock<std::mutex>(mutex_, std::adopt_lock);
    if (--busy_ == 0) done_.notify_all();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  job_size_ = n;
  next_index_ = 0;
  error_ = nullptr;
  ++generation_;
  wake_.notify_all();
  lock.release();
  run_indices();
  lock = std::unique_lock<std::mutex>(mutex_, std::adopt_lock);
  done_.wait(lock, [&] { return busy_ == 0; });
  job_ = nullptr;
  job_size_ = 0;
  if (error_) {
    auto error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

}  // namespace pyramidion

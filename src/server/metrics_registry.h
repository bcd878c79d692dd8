#pragma once
// Counters, gauges and histograms rendered in the Prometheus text exposition format (version 0.0.4).
// Thread-safe; metrics are created once (at service start) and updated from any thread.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pyramidion::server {

// A monotonically increasing count, optionally split by one set of label values.
class Counter {
 public:
  void add(double amount = 1, const std::string& labels = "");  // labels: `status="200",route="/v1/summarize"`
  double value(const std::string& labels = "") const;
  void render(const std::string& name, std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, double> values_;
};

class Gauge {
 public:
  void set(double value) { value_.store(value); }
  void add(double amount);
  double value() const { return value_.load(); }
  void render(const std::string& name, std::string& out) const;

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets (upper bounds, ascending; +Inf is implicit), sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  uint64_t count() const;
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class MetricsRegistry {
 public:
  // Names follow Prometheus conventions (`pyramidion_requests_total`); the same name returns the same metric.
  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds);

  std::string render() const;  // every metric, in creation order

 private:
  struct Entry {
    std::string name, help, type;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  Entry* find(const std::string& name);
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// A label value escaped for the exposition format (backslash, quote, newline).
std::string escape_label_value(const std::string& value);

}  // namespace pyramidion::server

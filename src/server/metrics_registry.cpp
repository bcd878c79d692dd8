#include "server/metrics_registry.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace pyramidion::server {
namespace {

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  // The shortest text that reads back as the same double (0.1, not 0.10000000000000001).
  for (int precision = 6; precision <= 17; ++precision) {
    std::ostringstream out;
    out.precision(precision);
    out << value;
    if (std::stod(out.str()) == value || precision == 17) return out.str();
  }
  return "";
}

std::string sample(const std::string& name, const std::string& labels, double value) {
  return name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Counter::add(double amount, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  values_[labels] += amount;
}

double Counter::value(const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Counter::render(const std::string& name, std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (values_.empty()) out += sample(name, "", 0);
  for (const auto& [labels, value] : values_) out += sample(name, labels, value);
}

void Gauge::add(double amount) {
  double current = value_.load();
  while (!value_.compare_exchange_weak(current, current + amount)) {
  }
}

void Gauge::render(const std::string& name, std::string& out) const { out += sample(name, "", value()); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 1; i < bounds_.size(); ++i)
    if (!(bounds_[i] > bounds_[i - 1])) throw std::invalid_argument("histogram bounds must ascend");
}

void Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += sample(name + "_bucket", "le=\"" + number(le) + "\"", static_cast<double>(cumulative));
  }
  out += sample(name + "_sum", "", sum_);
  out += sample(name + "_count", "", static_cast<double>(count_));
}

MetricsRegistry::Entry* MetricsRegistry::find(const std::string& name) {
  for (auto& e : entries_)
    if (e->name == name) return e.get();
  return nullptr;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* e = find(name)) {
    if (!e->counter) throw std::logic_error(name + " is not a counter");
    return *e->counter;
  }
  auto e = std::make_unique<Entry>();
  e->name = name, e->help = help, e->type = "counter";
  e->counter = std::make_unique<Counter>();
  entries_.push_back(std::move(e));
  return *entries_.back()->counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* e = find(name)) {
    if (!e->gauge) throw std::logic_error(name + " is not a gauge");
    return *e->gauge;
  }
  auto e = std::make_unique<Entry>();
  e->name = name, e->help = help, e->type = "gauge";
  e->gauge = std::make_unique<Gauge>();
  entries_.push_back(std::move(e));
  return *entries_.back()->gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* e = find(name)) {
    if (!e->histogram) throw std::logic_error(name + " is not a histogram");
    return *e->histogram;
  }
  auto e = std::make_unique<Entry>();
  e->name = name, e->help = help, e->type = "histogram";
  e->histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  entries_.push_back(std::move(e));
  return *entries_.back()->histogram;
}

std::string MetricsRegistry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " " + e->help + "\n";
    out += "# TYPE " + e->name + " " + e->type + "\n";
    if (e->counter) e->counter->render(e->name, out);
    if (e->gauge) e->gauge->render(e->name, out);
    if (e->histogram) e->histogram->render(e->name, out);
  }
  return out;
}

}  // namespace pyramidion::server

#include "server/load_client.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace pyramidion::server {

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

LoadResult run_load(const LoadOptions& o) {
  if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost")
    throw std::invalid_argument("load tests talk to loopback only (got host " + o.host + ")");
  if (o.clients < 1 || o.requests_per_client < 0) throw std::invalid_argument("clients must be >= 1");
  if (o.documents.empty()) throw std::invalid_argument("no documents to send");
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.deadline_s));

  std::mutex mutex;
  std::vector<double> latencies;
  LoadResult result;
  result.clients = o.clients;
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client(o.host, o.port);
      client.set_keep_alive(true);
      client.set_connection_timeout(5, 0);
      const auto timeout_us = static_cast<int64_t>(o.request_timeout_s * 1e6);
      client.set_read_timeout(timeout_us / 1000000, timeout_us % 1000000);
      client.set_write_timeout(10, 0);
      for (int i = 0; i < o.requests_per_client; ++i) {
        if (Clock::now() >= deadline) {
          std::lock_guard<std::mutex> lock(mutex);
          result.skipped += o.requests_per_client - i;
          break;
        }
        const auto& doc = o.documents[static_cast<size_t>(c * o.requests_per_client + i) % o.documents.size()];
        std::string body = "{\"document\": " + nlohmann::json(doc).dump();
        if (!o.extra_fields.empty()) body += ", " + o.extra_fields;
        body += "}";
        const auto sent = Clock::now();
        auto response = client.Post("/v1/summarize", body, "application/json");
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        std::lock_guard<std::mutex> lock(mutex);
        const int status = response ? response->status : 0;
        ++result.statuses[status];
        if (status != 0) {
          ++result.requests;
          latencies.push_back(ms);
        }
        if (status == 200)
          ++result.ok;
        else
          ++result.errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  result.p50_ms = quantile(latencies, 0.5);
  result.p99_ms = quantile(latencies, 0.99);
  result.max_ms = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  result.mean_ms = latencies.empty() ? 0
                                     : std::accumulate(latencies.begin(), latencies.end(), 0.0) /
                                           static_cast<double>(latencies.size());
  result.throughput_rps = result.elapsed_s > 0 ? static_cast<double>(result.ok) / result.elapsed_s : 0;
  return result;
}

}  // namespace pyramidion::server

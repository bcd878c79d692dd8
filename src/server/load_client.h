#pragma once
// A bounded HTTP load test against a summarization service on loopback: N clients x M requests each, every
// client on its own keep-alive connection, all stopped by one global deadline. Only 127.0.0.1 / ::1.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pyramidion::server {

struct LoadOptions {
  std::string host = "127.0.0.1";  // refused unless loopback
  int port = 0;
  int clients = 1;
  int requests_per_client = 20;
  double deadline_s = 120;  // the whole run; requests not started by then are skipped
  double request_timeout_s = 60;
  std::vector<std::string> documents;  // request i of client c sends documents[(c * M + i) % size]
  std::string extra_fields = "";       // JSON members added to each body, e.g. "\"beam\": 2"
};

struct LoadResult {
  int clients = 0;
  int64_t requests = 0;                                    // answered (any status)
  int64_t ok = 0;                                          // status 200
  int64_t errors = 0;                                      // non-200 answers plus connection failures
  int64_t skipped = 0;                                     // not sent: the deadline came first
  std::map<int, int64_t> statuses;                         // status -> count (0 = no answer)
  double p50_ms = 0, p99_ms = 0, mean_ms = 0, max_ms = 0;  // over answered requests
  double elapsed_s = 0;
  double throughput_rps = 0;  // 200 answers per second of wall time
};

LoadResult run_load(const LoadOptions& options);

// Latency quantile (q in [0, 1]) of `values` by the nearest-rank method; 0 when empty.
double quantile(std::vector<double> values, double q);

}  // namespace pyramidion::server

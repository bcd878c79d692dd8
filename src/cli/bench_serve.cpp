// `pyramidion bench serve`: a bounded load test of the HTTP service on loopback. Starts the service in this
// process on an ephemeral 127.0.0.1 port, with and without batching, and runs N clients x M requests for each
// client count (a global deadline stops every run); prints a Markdown table on stdout.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "bench_commands.h"
#include "command.h"
#include "model_loading.h"
#include "numeric_checks.h"
#include "pyramidion/util/line_reader.h"
#include "server/http_service.h"
#include "server/load_client.h"

namespace pyramidion::cli {
namespace {

struct BenchServeOptions {
  std::string model;
  SummarizerOptions loading;
  std::string input;  // one document per line; "" = synthetic documents
  std::vector<int> clients = {1, 4, 16};
  int requests = 16;        // per client
  double deadline_s = 120;  // per run
  int64_t beam = 2;
  int64_t max_len_b = 32;
  int64_t batch_documents = 16;
  int64_t max_wait_ms = 10;
  int workers = 1;
  int64_t document_words = 200;
};

// Deterministic documents from a small vocabulary, so runs are comparable without a data set.
std::vector<std::string> synthetic_documents(int64_t count, int64_t words) {
  static const char* vocabulary[] = {
      "the",       "patient", "study",    "results", "showed",   "significant", "increase",   "in",
      "treatment", "group",   "compared", "with",    "control",  "we",          "found",      "that",
      "model",     "data",    "analysis", "method",  "cells",    "protein",     "expression", "level",
      "clinical",  "trial",   "risk",     "effect",  "response", "rate",        "."};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, sizeof vocabulary / sizeof vocabulary[0] - 1);
  std::vector<std::string> docs;
  for (int64_t d = 0; d < count; ++d) {
    std::string text;
    for (int64_t w = 0; w < words; ++w) text += std::string(w ? " " : "") + vocabulary[pick(rng)];
    docs.push_back(text);
  }
  return docs;
}

void run(const BenchServeOptions& o) {
  const Summarizer summarizer = load_summarizer(o.model, o.loading);
  std::vector<std::string> documents;
  if (!o.input.empty()) {
    std::ifstream in(o.input);
    if (!in) throw CommandError(o.input + ": cannot open");
    std::string line;
    LineReader lines(in, o.input);
    while (lines.next(line))
      if (line.find_first_not_of(" \t\r") != std::string::npos) documents.push_back(line);
    if (documents.empty()) throw CommandError(o.input + ": no documents");
  } else {
    documents = synthetic_documents(64, o.document_words);
  }
  const std::string fields = fmt::format("\"beam\": {}, \"max_len_b\": {}", o.beam, o.max_len_b);

  std::cout << "| batching | clients | requests | ok | errors | p50 ms | p99 ms | throughput req/s | docs/batch |\n"
            << "|---|---|---|---|---|---|---|---|---|\n";
  for (const bool batching : {false, true}) {
    server::ServiceOptions service_options;
    service_options.host = "127.0.0.1";
    service_options.port = 0;
    service_options.batching.max_batch_documents = batching ? o.batch_documents : 1;
    service_options.batching.max_wait_ms = batching ? o.max_wait_ms : 0;
    service_options.batching.workers = o.workers;
    service_options.batching.max_queue = 4096;
    service_options.http_threads = 64;
    server::HttpService service(summarizer, service_options);
    const int port = service.bind();
    std::thread serving([&] { service.serve(); });
    server::LoadOptions load;
    load.port = port;
    load.documents = documents;
    load.extra_fields = fields;
    load.deadline_s = o.deadline_s;
    // Warm-up (first-call allocations), not measured.
    load.clients = 1;
    load.requests_per_client = 2;
    server::run_load(load);
    for (int clients : o.clients) {
      load.clients = clients;
      load.requests_per_client = o.requests;
      const int64_t batches_before = service.queue().batches_run();
      const auto r = server::run_load(load);
      const int64_t batches = service.queue().batches_run() - batches_before;
      const std::string label =
          batching ? fmt::format("up to {} docs, {} ms", o.batch_documents, o.max_wait_ms) : "off";
      std::cout << fmt::format("| {} | {} | {} | {} | {} | {:.0f} | {:.0f} | {:.2f} | {:.2f} |\n", label, clients,
                               r.requests + r.skipped, r.ok, r.errors, r.p50_ms, r.p99_ms, r.throughput_rps,
                               batches > 0 ? static_cast<double>(r.ok) / static_cast<double>(batches) : 0.0)
                << std::flush;
      if (r.skipped > 0)
        spdlog::warn("{} clients: {} requests skipped at the {} s deadline", clients, r.skipped, o.deadline_s);
    }
    service.stop();
    serving.join();
  }
}

}  // namespace

void add_bench_serve(CLI::App& bench) {
  auto o = std::make_shared<BenchServeOptions>();
  auto* cmd = bench.add_subcommand("serve",
                                   "load test of `serve` on loopback: p50/p99 latency and throughput, batching off/on");
  cmd->add_option("-m,--model", o->model, "model file")->required();
  add_model_loading_options(*cmd, o->loading);
  cmd->add_option("-i,--input", o->input, "documents, one per line (default: synthetic)");
  cmd->add_option("--clients", o->clients, "concurrent client counts")
      ->check(number_range(1, 4096))
      ->capture_default_str()
      ->delimiter(',');
  cmd->add_option("--requests", o->requests, "requests per client")->check(positive_number())->capture_default_str();
  cmd->add_option("--deadline-s", o->deadline_s, "each run stops by then")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--beam", o->beam, "beam of every request")->check(positive_number())->capture_default_str();
  cmd->add_option("--max-len-b", o->max_len_b, "max summary length of every request")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-batch-documents", o->batch_documents, "batching on: documents per batch")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", o->max_wait_ms, "batching on: wait for company")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--workers", o->workers, "generation workers")->check(positive_number())->capture_default_str();
  cmd->add_option("--document-words", o->document_words, "words per synthetic document")
      ->check(positive_number())
      ->capture_default_str();
  cmd->callback([o] { run(*o); });
}

}  // namespace pyramidion::cli

#include "server/http_service.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/explain/highlight.h"
#include "pyramidion/util/yaml_json.h"
#include "pyramidion/version.h"
#include "server/gated_server.h"
#include "server/index_page.h"
#include "server/request_id.h"

namespace pyramidion::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr double kMaxSeconds = 86400;  // timeouts: a day at most (a deadline must not overflow the clock)
constexpr int kMaxHttpThreads = 1024;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& reason) {
  send_json(res, status, json{{"error", reason}});
}

std::string status_reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout";
    case 414:
      return "URI too long";
    case 416:
      return "range not satisfiable";
    case 431:
      return "request header fields too large";
    default:
      return "HTTP " + std::to_string(status);
  }
}

// Every route the service answers: the 405 answers, the metrics' route label and /openapi.json come from here.
struct Route {
  const char* path;
  const char* method;
  const char* summary;
};
const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"/", "GET", "The page: summarize a pasted document and see what the poolers kept"},
      {"/health", "GET", "Liveness: 200 while the process runs"},
      {"/ready", "GET", "Readiness: 200 while requests are accepted, 503 while shutting down"},
      {"/metrics", "GET", "Prometheus metrics (text exposition format 0.0.4)"},
      {"/openapi.json", "GET", "This description of the API (OpenAPI 3.0)"},
      {"/v1/model", "GET", "The model: name, file name, config, tokenizer, limits"},
      {"/v1/summarize", "POST", "Summarize one or more documents"},
  };
  return table;
}

std::string route_label(const std::string& path) {
  for (const auto& route : routes())
    if (path == route.path) return path;
  return "other";
}

// The methods a path answers, as an Allow header ("GET, HEAD"; httplib answers HEAD for every GET route).
std::string allowed_methods(const std::string& path) {
  std::string allow;
  for (const auto& route : routes()) {
    if (path != route.path) continue;
    allow += (allow.empty() ? "" : ", ") + std::string(route.method);
    if (std::string(route.method) == "GET") allow += ", HEAD";
  }
  return allow;
}

// The request id of a response (set before routing, or by the error handler for requests that never reached it).
std::string request_id_of(httplib::Response& res) {
  if (!res.has_header(kRequestIdHeader)) res.set_header(kRequestIdHeader, new_request_id());
  return res.get_header_value(kRequestIdHeader);
}

// The JSON schema of one decoding option of POST /v1/summarize.
json option_schema(const char* type, const char* description) {
  return json{{"type", type}, {"description", description}};
}

// A length the model cannot reach is answered with a warning, as the CLI warns on stderr ("" when it fits).
std::string length_warning(const BeamSearchOptions& search, const ModelConfig& model) {
  const int64_t cap = model.max_target_positions - 1;
  const double longest =
      search.max_len_a * static_cast<double>(model.max_source_positions) + static_cast<double>(search.max_len_b);
  if (longest <= static_cast<double>(cap)) return "";
  return fmt::format(
      "max_len_a {} and max_len_b {} allow {:.0f} tokens but the model generates at most {} "
      "(max_target_positions - 1); summaries stop there",
      search.max_len_a, search.max_len_b, longest, cap);
}

// The tokens a streaming generation has chosen so far (written by the generation worker, read by the HTTP thread).
struct TokenStream {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int64_t> tokens;
};

std::string sse_event(const std::string& event, const json& data) {
  return "event: " + event + "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

json openapi_document(const std::string& model_name, const GenerationOptions& defaults) {
  json paths = json::object();
  for (const auto& route : routes()) {
    json operation;
    operation["summary"] = route.summary;
    operation["responses"]["200"]["description"] = "OK";
    operation["responses"]["default"] = {
        {"description", "an error: {\"error\": one line}"},
        {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    std::string method = route.method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    paths[route.path][method] = operation;
  }
  json& summarize = paths["/v1/summarize"]["post"];
  summarize["requestBody"] = {
      {"required", true},
      {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/SummarizeRequest"}}}}}}}};
  summarize["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] =
      "#/components/schemas/SummarizeResponse";
  const std::vector<std::pair<const char*, const char*>> errors = {
      {"400", "invalid JSON, an unknown field or a value out of range"},
      {"413", "body larger than --max-body-bytes"},
      {"499", "the client closed the connection (its generation was cancelled)"},
      {"503", "queue full or shutting down (Retry-After: 1)"},
      {"504", "no answer within --timeout-s"}};
  for (const auto& [status, description] : errors)
    summarize["responses"][status] = {
        {"description", description},
        {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};

  json request = {{"type", "object"}, {"additionalProperties", false}};
  request["properties"] = {
      {"documents",
       {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "the documents to summarize"}}},
      {"document", option_schema("string", "one document (instead of documents)")},
      {"return_highlights", option_schema("boolean", "also answer what the poolers kept (docs/highlight.md)")},
      {"stream", option_schema("boolean",
                               "answer as server-sent events (text/event-stream): an event \"token\" "
                               "{index, token, text so far} per generated token, then \"summary\" with "
                               "the whole answer; one document, beam 1")},
  };
  // The decoding options: the rows of the generation option table a request may set, with this server's defaults.
  for (const auto& option : generation_option_fields()) {
    if (!(option.uses & kPerRequest)) continue;
    static const char* const kTypes[] = {"integer", "number", "boolean"};
    json schema = {{"type", kTypes[static_cast<int>(option.type)]},
                   {"description", std::string(option.help) + " (command line: " + option.flag + ")"},
                   {"default", option.to_json(defaults)},
                   {"x-decoding-option", true}};  // the page offers an input for each
    if (option.type != GenerationOptionType::boolean) {
      if (std::isfinite(option.minimum))
        schema[option.exclusive_minimum ? "exclusiveMinimum" : "minimum"] = option.minimum;
      if (std::isfinite(option.maximum)) schema["maximum"] = option.maximum;
      if (option.off) schema["description"] = schema["description"].get<std::string>() + "; " + option.range_text();
    }
    request["properties"][option.name] = schema;
  }
  json summary = {{"type", "object"},
                  {"properties",
                   {{"summary", {{"type", "string"}}},
                    {"score", {{"type", "number"}}},
                    {"tokens", {{"type", "integer"}}},
                    {"source_tokens", {{"type", "integer"}}},
                    {"truncated", {{"type", "boolean"}}},
                    {"hypotheses", {{"type", "array"}, {"description", "nbest > 1: [{summary, score}], best first"}}},
                    {"highlights", {{"type", "object"}}}}}};
  json response = {{"type", "object"},
                   {"properties",
                    {{"summaries", {{"type", "array"}, {"items", summary}}},
                     {"warnings",
                      {{"type", "array"},
                       {"items", {{"type", "string"}}},
                       {"description", "present when an option asks more than the model can do"}}},
                     {"model", {{"type", "string"}}},
                     {"elapsed_ms", {{"type", "number"}}}}}};
  json error = {{"type", "object"}, {"properties", {{"error", {{"type", "string"}}}}}, {"required", {"error"}}};
  json document;
  document["openapi"] = "3.0.3";
  document["info"] = {{"title", "pyramidion serve"},
                      {"version", PYRAMIDION_VERSION},
                      {"description", "Long-document summarization with trainable representation pooling; model " +
                                          model_name + ". Every response carries X-Request-Id."}};
  document["paths"] = paths;
  document["components"]["schemas"] = {
      {"SummarizeRequest", request}, {"SummarizeResponse", response}, {"Error", error}};
  return document;
}

}  // namespace

struct HttpService::Metrics {
  explicit Metrics(MetricsRegistry& r)
      : requests(r.counter("pyramidion_http_requests_total", "HTTP requests answered, by route and status")),
        latency(r.histogram("pyramidion_summarize_duration_seconds", "POST /v1/summarize latency, arrival to answer",
                            {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
        in_flight(r.gauge("pyramidion_summarize_in_flight", "summarize requests being answered")),
        queue_depth(r.gauge("pyramidion_queue_documents", "documents waiting for a generation batch")),
        batch_documents(r.histogram("pyramidion_batch_documents", "documents per generation batch",
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256})),
        queue_time(r.histogram("pyramidion_queue_duration_seconds",
                               "time a summarize request waited in the queue before its generation batch started",
                               {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
        generation_time(r.histogram("pyramidion_generation_duration_seconds", "time to generate one batch",
                                    {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
        documents(r.counter("pyramidion_documents_summarized_total", "documents summarized")),
        truncated(r.counter("pyramidion_documents_truncated_total", "documents cut to the source length limit")),
        source_tokens(r.counter("pyramidion_source_tokens_total", "source tokens read by the encoder")),
        summary_tokens(r.counter("pyramidion_summary_tokens_total", "summary tokens generated")),
        cancelled_requests(r.counter("pyramidion_requests_cancelled_total",
                                     "summarize requests given up before their answer, by reason")),
        cancelled_documents(r.counter("pyramidion_generation_cancelled_documents_total",
                                      "documents whose running generation was stopped (nobody waited any more)")) {}
  Counter& requests;
  Histogram& latency;
  Gauge& in_flight;
  Gauge& queue_depth;
  Histogram& batch_documents;
  Histogram& queue_time;
  Histogram& generation_time;
  Counter& documents;
  Counter& truncated;
  Counter& source_tokens;
  Counter& summary_tokens;
  Counter& cancelled_requests;
  Counter& cancelled_documents;
};

HttpService::HttpService(const Summarizer& summarizer, ServiceOptions options)
    : summarizer_(summarizer), options_(std::move(options)), m_(std::make_unique<Metrics>(metrics_)) {
  if (options_.model_name.empty())
    options_.model_name =
        summarizer_.path().empty() ? "model" : std::filesystem::path(summarizer_.path()).stem().string();
  if (options_.max_body_bytes < 1) throw std::invalid_argument("max_body_bytes must be >= 1");
  if (!(options_.timeout_s > 0)) throw std::invalid_argument("timeout_s must be > 0");
  // Bounded so that a deadline never overflows the clock and a thread count never exhausts the process.
  if (!(options_.timeout_s <= kMaxSeconds)) throw std::invalid_argument("timeout_s must be <= 86400");
  if (!(options_.request_timeout_s > 0 && options_.request_timeout_s <= kMaxSeconds))
    throw std::invalid_argument("request_timeout_s must be in (0, 86400]");
  if (options_.http_threads < 1 || options_.http_threads > kMaxHttpThreads)
    throw std::invalid_argument("http_threads must be in [1, " + std::to_string(kMaxHttpThreads) + "]");
  if (options_.max_connections < 1) throw std::invalid_argument("max_connections must be >= 1");
  if (options_.max_document_tokens < 0) throw std::invalid_argument("max_document_tokens must be >= 0");
  defaults_.max_documents_per_batch = options_.batching.max_batch_documents;
  defaults_.max_source_tokens_per_batch = options_.source_tokens_per_batch;
  defaults_.max_source_length = options_.max_document_tokens;
  // The default length fits the model (a tiny model writes 127 tokens at most, not fairseq's default 200).
  defaults_.search.max_len_b =
      std::min<int64_t>(defaults_.search.max_len_b, summarizer_.config().max_target_positions - 1);
  validate(defaults_);
  queue_ = std::make_unique<BatchingQueue>(
      [this](const std::vector<std::string>& documents, const GenerationOptions& generation) {
        try {
          return summarizer_.summarize(documents, generation);
        } catch (const GenerationCancelled&) {
          m_->cancelled_documents.add(static_cast<double>(documents.size()));
          spdlog::info("generation of {} document(s) cancelled: no client waits for it any more", documents.size());
          throw;
        }
      },
      options_.batching,
      [this](int64_t documents, const std::vector<double>& queue_seconds) {
        m_->batch_documents.observe(static_cast<double>(documents));
        for (double seconds : queue_seconds) m_->queue_time.observe(seconds);
      },
      [this](double seconds) { m_->generation_time.observe(seconds); });
  GateOptions gate;
  gate.request_timeout_s = options_.request_timeout_s;
  gate.workers = options_.http_threads;
  gate.max_connections = static_cast<size_t>(options_.max_connections);
  http_ = std::make_unique<GatedServer>(gate, /*write_timeout_s=*/10, [this](const std::string& path, int status) {
    m_->requests.add(1, "route=\"" + route_label(path) + "\",status=\"" + std::to_string(status) + "\"");
  });
  // cpp-httplib sets SO_REUSEPORT on its socket: a second server on a port in use would bind anyway and silently take
  // half the connections. SO_REUSEADDR only lets a restart reuse a port whose old connections linger in TIME_WAIT;
  // a port another process listens on stays refused.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  install_routes();
}

HttpService::~HttpService() {
  stop();
  queue_->shutdown();
}

void HttpService::install_routes() {
  auto& http = *http_;
  // Every wait on a connection is bounded (GatedServer): the request must arrive within --request-timeout-s,
  // each write within 10 s, and a connection carries one request.
  http.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  // Every response carries X-Request-Id: the client's own when it sent a usable one, else a new one.
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.get_header_value(kRequestIdHeader);
    res.set_header(kRequestIdHeader, acceptable_request_id(id) ? id : new_request_id());
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, json{{"status", "ok"}});
  });
  http.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    if (stopping_) {
      res.set_header("Retry-After", "1");
      return send_json(res, 503, json{{"ready", false}, {"reason", "shutting down"}});
    }
    send_json(res, 200, json{{"ready", true}, {"model", options_.model_name}});
  });
  http.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
    const auto& tok = summarizer_.tokenizer();
    json body;
    body["name"] = options_.model_name;
    body["file"] = std::filesystem::path(summarizer_.path()).filename().string();  // never a machine path
    body["config"] = yaml_to_json<json>(summarizer_.config().to_yaml());
    body["parameters"] = summarizer_.model()->parameter_count();
    body["compute_type"] = summarizer_.compute_type();
    body["max_source_positions"] = summarizer_.config().max_source_positions;
    body["device"] = summarizer_.device().str();
    body["tokenizer"] = {{"vocab_size", tok.vocab_size()}, {"pad_id", tok.pad_id()},
                         {"unk_id", tok.unk_id()},         {"bos_id", tok.bos_id()},
                         {"eos_id", tok.eos_id()},         {"sentence_separator_id", tok.sentence_separator_id()}};
    body["metadata"] = summarizer_.metadata();
    body["highlights"] = true;  // "return_highlights": true answers what the poolers kept (docs/highlight.md)
    body["pooling_layers"] = static_cast<int64_t>(summarizer_.config().pooling.schedule.size());
    body["limits"] = {{"max_batch_documents", options_.batching.max_batch_documents},
                      {"max_wait_ms", options_.batching.max_wait_ms},
                      {"max_queue", options_.batching.max_queue},
                      {"max_body_bytes", options_.max_body_bytes},
                      {"max_document_tokens", options_.max_document_tokens},
                      {"max_documents_per_request", options_.limits.max_documents},
                      {"max_beam", options_.limits.max_beam},
                      {"timeout_s", options_.timeout_s}};
    send_json(res, 200, body);
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    m_->queue_depth.set(static_cast<double>(queue_->queued_documents()));
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/openapi.json", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, openapi_document(options_.model_name, defaults_));
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(index_page_html(), "text/html; charset=utf-8");
  });

  http.Post("/v1/summarize", [this](const httplib::Request& req, httplib::Response& res) {
    const auto start = Clock::now();
    m_->in_flight.add(1);
    struct Done {  // latency and in-flight count however the handler leaves
      Metrics& m;
      Clock::time_point start;
      ~Done() {
        m.in_flight.add(-1);
        m.latency.observe(std::chrono::duration<double>(Clock::now() - start).count());
      }
    } done{*m_, start};
    if (stopping_) {
      res.set_header("Retry-After", "1");
      return send_error(res, 503, "the server is shutting down");
    }
    SummarizeRequest request;
    try {
      request = parse_summarize_request(req.body, defaults_, options_.limits);
    } catch (const RequestError& e) {
      return send_error(res, e.status, e.what());
    }
    if (request.return_highlights) {
      // The highlight view needs the pooling records and the decoder's cross-attention of each document; such
      // requests batch only with each other (same_generation compares the flags).
      request.generation.return_pooling = true;
      request.generation.return_cross_attention = true;
    }
    const auto deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_s));
    const auto cancelled = std::make_shared<std::atomic<bool>>(false);
    if (request.stream) return stream_summary(request, res, deadline, cancelled);
    std::future<std::vector<DocumentSummary>> future;
    try {
      future = queue_->submit(request.documents, request.generation, deadline, cancelled);
    } catch (const QueueFull& e) {
      res.set_header("Retry-After", "1");
      return send_error(res, 503, e.what());
    } catch (const QueueClosed& e) {
      res.set_header("Retry-After", "1");
      return send_error(res, 503, e.what());
    }
    // Wait for the answer, watching the client: one that leaves (or the deadline) cancels the generation.
    for (;;) {
      const auto now = Clock::now();
      if (future.wait_until(std::min(deadline, now + std::chrono::milliseconds(50))) == std::future_status::ready)
        break;
      if (Clock::now() >= deadline) {
        *cancelled = true;
        m_->cancelled_requests.add(1, "reason=\"deadline\"");
        return send_error(res, 504, "no answer within --timeout-s " + std::to_string(options_.timeout_s) + " s");
      }
      if (GatedServer::current_client_gone()) {
        *cancelled = true;
        m_->cancelled_requests.add(1, "reason=\"client_gone\"");
        spdlog::info("request {}: client left before its answer; {} document(s) cancelled", request_id_of(res),
                     request.documents.size());
        return send_error(res, 499, "client closed the connection");
      }
    }
    std::vector<DocumentSummary> results;
    try {
      results = future.get();
    } catch (const DeadlineExceeded& e) {
      return send_error(res, 504, e.what());
    } catch (const GenerationCancelled&) {
      return send_error(res, 504, "no answer within --timeout-s " + std::to_string(options_.timeout_s) + " s");
    } catch (const std::exception& e) {
      spdlog::error("request {}: summarize failed: {}", request_id_of(res), e.what());
      return send_error(res, 500, std::string("generation failed: ") + e.what());
    }
    json summaries = json::array();
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      json item = summary_item(r);
      if (request.generation.search.nbest > 1) {
        item["hypotheses"] = json::array();
        for (const auto& h : r.hypotheses) item["hypotheses"].push_back({{"summary", h.text}, {"score", h.score}});
      }
      if (request.return_highlights) {
        try {
          HighlightOptions highlight;
          highlight.generation = request.generation;
          item["highlights"] = highlight_json(highlight_summary(summarizer_, {request.documents[i]}, r, highlight));
        } catch (const std::exception& e) {
          spdlog::error("request {}: highlight failed: {}", request_id_of(res), e.what());
          return send_error(res, 500, std::string("highlight failed: ") + e.what());
        }
      }
      summaries.push_back(std::move(item));
    }
    json body;
    body["summaries"] = std::move(summaries);
    const std::string warning = length_warning(request.generation.search, summarizer_.config());
    if (!warning.empty()) body["warnings"] = {warning};
    body["model"] = options_.model_name;
    body["elapsed_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    send_json(res, 200, body);
  });

  // Statuses httplib answers itself (404, 413, 400) get the same one-line JSON error body as ours.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                     httplib::Response& res) {
    request_id_of(res);  // statuses answered before routing (400, 413, 408) carry one too
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string reason;
    if (GatedServer::current_request_timed_out()) {
      res.status = 408;
      reason = "request not received within --request-timeout-s " + std::to_string(options_.request_timeout_s) + " s";
    } else if (res.status == 404 && !allowed_methods(req.path).empty()) {
      res.status = 405;
      res.set_header("Allow", allowed_methods(req.path));
      reason =
          "method " + req.method + " not allowed for " + req.path + " (allowed: " + allowed_methods(req.path) + ")";
    } else if (res.status == 404)
      reason = "no route " + req.method + " " + req.path;
    else if (res.status == 413)
      reason = "body larger than --max-body-bytes (" + std::to_string(options_.max_body_bytes) + " bytes)";
    else
      reason = status_reason(res.status);
    send_error(res, res.status, reason);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    request_id_of(res);
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    spdlog::error("request {}: {}", request_id_of(res), what);
    send_error(res, 500, what);
  });
  // Counted before the response is written (the logger runs after it), so a client that reads /metrics right after
  // its answer sees its own request counted.
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    m_->requests.add(1, "route=\"" + route_label(req.path) + "\",status=\"" + std::to_string(res.status) + "\"");
  });
  // One line per request with its id; the probes (/health, /ready, /metrics) only at debug level.
  http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const bool probe = req.path == "/health" || req.path == "/ready" || req.path == "/metrics";
    spdlog::log(probe ? spdlog::level::debug : spdlog::level::info, "request {} {} {} -> {}",
                res.get_header_value(kRequestIdHeader), req.method, req.path, res.status);
  });
}

json HttpService::summary_item(const DocumentSummary& r) {
  json item;
  const bool has = !r.hypotheses.empty();
  item["summary"] = has ? r.hypotheses.front().text : "";
  item["score"] = has ? r.hypotheses.front().score : 0.0;
  item["tokens"] = has ? static_cast<int64_t>(r.hypotheses.front().tokens.size()) : 0;
  item["source_tokens"] = r.source_tokens;
  item["truncated"] = r.truncated;
  m_->documents.add(1);
  if (r.truncated) m_->truncated.add(1);
  m_->source_tokens.add(static_cast<double>(r.source_tokens));
  m_->summary_tokens.add(has ? static_cast<double>(r.hypotheses.front().tokens.size()) : 0);
  return item;
}

void HttpService::stream_summary(SummarizeRequest& request, httplib::Response& res, Clock::time_point deadline,
                                 const std::shared_ptr<std::atomic<bool>>& cancelled) {
  const auto start = Clock::now();
  auto stream = std::make_shared<TokenStream>();
  request.generation.search.on_token = [stream](int64_t, int64_t token) {
    {
      std::lock_guard<std::mutex> lock(stream->mutex);
      stream->tokens.push_back(token);
    }
    stream->changed.notify_all();
  };
  std::shared_future<std::vector<DocumentSummary>> future;
  try {
    future = queue_->submit(request.documents, request.generation, deadline, cancelled).share();
  } catch (const QueueFull& e) {
    res.set_header("Retry-After", "1");
    return send_error(res, 503, e.what());
  } catch (const QueueClosed& e) {
    res.set_header("Retry-After", "1");
    return send_error(res, 503, e.what());
  }
  const std::string warning = length_warning(request.generation.search, summarizer_.config());
  const std::string id = request_id_of(res);
  res.set_header("Cache-Control", "no-cache");
  size_t sent = 0;
  res.set_chunked_content_provider("text/event-stream", [this, stream, future, deadline, cancelled, sent, warning, id,
                                                         start](size_t, httplib::DataSink& sink) mutable {
    std::vector<int64_t> tokens;
    bool finished = false;
    {
      std::unique_lock<std::mutex> lock(stream->mutex);
      stream->changed.wait_for(lock, std::chrono::milliseconds(50), [&] { return stream->tokens.size() > sent; });
      // Ready is read before the tokens: a generation that has finished has chosen all of them already.
      finished = future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      tokens = stream->tokens;
    }
    auto write = [&](const std::string& event, const json& data) {
      const std::string text = sse_event(event, data);
      return sink.write(text.data(), text.size());
    };
    for (; sent < tokens.size(); ++sent) {
      const std::vector<int64_t> prefix(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(sent + 1));
      const json event = {{"index", sent}, {"token", tokens[sent]}, {"text", summarizer_.tokenizer().decode(prefix)}};
      if (!write("token", event)) {  // the client left: stop generating for it
        *cancelled = true;
        m_->cancelled_requests.add(1, "reason=\"client_gone\"");
        spdlog::info("request {}: client left during its stream; generation cancelled", id);
        return false;
      }
    }
    if (finished) {
      json body;
      try {
        const auto results = future.get();
        body["summaries"] = json::array({summary_item(results.at(0))});
        if (!warning.empty()) body["warnings"] = {warning};
        body["model"] = options_.model_name;
        body["elapsed_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        write("summary", body);
      } catch (const std::exception& e) {
        spdlog::error("request {}: streamed summarize failed: {}", id, e.what());
        write("error", json{{"error", std::string("generation failed: ") + e.what()}});
      }
      sink.done();
      return true;
    }
    if (Clock::now() >= deadline) {
      *cancelled = true;
      m_->cancelled_requests.add(1, "reason=\"deadline\"");
      write("error", json{{"error", "no answer within --timeout-s " + std::to_string(options_.timeout_s) + " s"}});
      sink.done();
    }
    return true;
  });
}

int HttpService::bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
    if (port < 0) throw std::runtime_error("cannot bind " + options_.host + " (an ephemeral port)");
  } else if (!http_->bind_to_port(options_.host, port)) {
    throw std::runtime_error("cannot bind " + options_.host + ":" + std::to_string(port) +
                             " (in use by another process, or not an address of this machine)");
  }
  bound_ = true;
  options_.port = port;
  return port;
}

void HttpService::serve() {
  if (!bound_) bind();
  if (!stopping_) http_->listen_after_bind();  // returns after stop()
  http_->shutdown_gate();                      // the requests being served are answered; waiting heads are closed
  queue_->shutdown();                          // anything still queued is generated and answered
}

void HttpService::stop() {
  stopping_ = true;
  queue_->close();  // queued requests are generated now, not after their wait for company
  http_->stop();
}

}  // namespace pyramidion::server

// `pyramidion serve` as a child process on an ephemeral loopback port, with a tiny model this test makes
// (a word tokenizer trained on text written here, random float64 weights): every route and error status,
// concurrent requests batched and equal to `pyramidion summarize`, SIGTERM during a request lets it finish.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "../data/temp_dir.h"
#include "cli_runner.h"
#include "server_process.h"
#include "tiny_model.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ServerProcess;

using testing::tiny_document;
using testing::tiny_words;
const std::vector<std::string>& words() { return tiny_words(); }
std::string document(uint64_t seed, int length) { return tiny_document(seed, length); }

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    model_path_ = dir_->file("tiny.pt");
    testing::write_tiny_model(model_path_, dir_->path());
  }
  static void TearDownTestSuite() {
    if (server_) EXPECT_EQ(server_->terminate(), 0) << server_->stderr_text();
    server_.reset();  // never leave a child process behind
    delete dir_;
    dir_ = nullptr;
  }

  // The main server: batching up to 8 documents, 200 ms of waiting for company.
  static ServerProcess& server() {
    if (!server_)
      server_ = std::make_unique<ServerProcess>(
          std::vector<std::string>{"-m", model_path_, "--dtype", "float64", "--max-batch-documents", "8",
                                   "--max-wait-ms", "200", "--max-body-bytes", "65536", "--max-beam", "8"},
          dir_->file("main"));
    return *server_;
  }

  static testing::TempDir* dir_;
  static std::string model_path_;
  static std::unique_ptr<ServerProcess> server_;
};
std::unique_ptr<ServerProcess> Serve::server_;
testing::TempDir* Serve::dir_ = nullptr;
std::string Serve::model_path_;

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(30, 0);
  c.set_write_timeout(10, 0);
  return c;
}

json body_of(const httplib::Result& r) { return json::parse(r->body); }

// A one-line JSON {"error": ...} with the expected status, and the reason containing `reason`.
void expect_error(const httplib::Result& r, int status, const std::string& reason) {
  ASSERT_TRUE(r) << "no answer (expected " << status << ")";
  EXPECT_EQ(r->status, status) << r->body;
  json body;
  ASSERT_NO_THROW(body = json::parse(r->body)) << r->body;
  ASSERT_TRUE(body["error"].is_string()) << r->body;
  const std::string error = body["error"];
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_NE(error.find(reason), std::string::npos) << "\"" << error << "\" lacks \"" << reason << "\"";
}

TEST_F(Serve, RoutesAnswer) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["status"], "ok");
  r = c.Get("/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_of(r)["ready"], true);
  r = c.Get("/v1/model");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto model = body_of(r);
  EXPECT_EQ(model["name"], "tiny");
  EXPECT_EQ(model["config"]["model"]["d_model"], 16) << model.dump();
  EXPECT_EQ(model["max_source_positions"], 64);
  EXPECT_GT(model["parameters"].get<int64_t>(), 1000);
  EXPECT_EQ(model["tokenizer"]["vocab_size"], static_cast<int64_t>(words().size()) + 5);
  EXPECT_EQ(model["highlights"], true);
  EXPECT_EQ(model["pooling_layers"], 2);
  EXPECT_EQ(model["file"], "tiny.pt");
  EXPECT_EQ(r->body.find(dir_->path()), std::string::npos) << "a machine path in /v1/model: " << r->body;

  r = c.Post("/v1/summarize", R"({"document": "alpha bravo charlie delta echo", "beam": 2, "max_len_b": 8})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto result = body_of(r);
  ASSERT_EQ(result["summaries"].size(), 1u);
  const auto& s0 = result["summaries"][0];
  EXPECT_TRUE(s0["summary"].is_string());
  EXPECT_TRUE(s0["score"].is_number());
  EXPECT_LE(s0["tokens"].get<int64_t>(), 8);
  EXPECT_EQ(s0["source_tokens"], 6);  // five words + EOS
  EXPECT_EQ(s0["truncated"], false);
  EXPECT_EQ(result["model"], "tiny");
  EXPECT_GT(result["elapsed_ms"].get<double>(), 0.0);

  r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  for (const char* line : {"# TYPE pyramidion_http_requests_total counter",
                           "pyramidion_http_requests_total{route=\"/health\",status=\"200\"} 1",
                           "pyramidion_http_requests_total{route=\"/v1/summarize\",status=\"200\"}",
                           "# TYPE pyramidion_summarize_duration_seconds histogram",
                           "pyramidion_summarize_duration_seconds_bucket{le=\"+Inf\"}", "pyramidion_queue_documents 0",
                           "# TYPE pyramidion_batch_documents histogram", "pyramidion_documents_summarized_total",
                           "pyramidion_source_tokens_total", "pyramidion_summary_tokens_total"})
    EXPECT_NE(r->body.find(line), std::string::npos) << line << "\n" << r->body;

  r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<textarea"), std::string::npos);
  EXPECT_EQ(r->body.find("http://"), std::string::npos);  // no external assets
  EXPECT_EQ(r->body.find("https://"), std::string::npos);
  EXPECT_NE(r->body.find("window.pyramidionHighlight"), std::string::npos);  // the highlight view's renderer

  expect_error(c.Get("/nope"), 404, "no route GET /nope");
  expect_error(c.Post("/v1/nope", "{}", "application/json"), 404, "no route POST /v1/nope");
  EXPECT_TRUE(s.stdout_text().empty()) << s.stdout_text();  // stdout carries nothing; logs are on stderr
}

// "return_highlights": true answers, per document, the same JSON as `pyramidion highlight --json`.
// The API as serving users expect it: /openapi.json describes exactly the routes the server answers (each answers
// its documented method; any other method gets 405 with Allow listing the documented ones), every documented field
// of the summarize request is accepted, every response carries X-Request-Id (the client's own when given) and the
// log names it, and /metrics has the queue and generation times.
TEST_F(Serve, OpenApiDescribesTheRoutesAndEveryResponseHasARequestId) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  auto r = c.Get("/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json api = body_of(r);
  EXPECT_EQ(api["openapi"].get<std::string>().rfind("3.", 0), 0u);
  ASSERT_GE(api["paths"].size(), 7u) << api.dump();
  const std::string doc = R"({"document": "alpha bravo charlie delta echo", "max_len_b": 4})";
  for (const auto& [path, operations] : api["paths"].items()) {
    std::string allow;
    for (const auto& [method, operation] : operations.items()) {
      ASSERT_TRUE(operation["summary"].is_string()) << path;
      if (method == "get") {
        r = c.Get(path.c_str());
        allow += std::string(allow.empty() ? "" : ", ") + "GET, HEAD";
      } else {
        ASSERT_EQ(method, "post") << path;
        r = c.Post(path.c_str(), doc, "application/json");
        allow += std::string(allow.empty() ? "" : ", ") + "POST";
      }
      ASSERT_TRUE(r) << method << " " << path;
      EXPECT_EQ(r->status, 200) << method << " " << path << ": " << r->body;
    }
    r = c.Delete(path.c_str());
    ASSERT_TRUE(r) << path;
    expect_error(r, 405, "method DELETE not allowed for " + path);
    EXPECT_EQ(r->get_header_value("Allow"), allow) << path;
  }
  r = c.Post("/health", "{}", "application/json");
  expect_error(r, 405, "allowed: GET, HEAD");
  expect_error(c.Get("/v2/summarize"), 404, "no route GET /v2/summarize");

  // Every documented request field is one the server accepts.
  const json properties = api["components"]["schemas"]["SummarizeRequest"]["properties"];
  ASSERT_GE(properties.size(), 10u);
  for (const auto& [field, schema] : properties.items()) {
    if (field == "document" || field == "documents") continue;
    json body = {{"document", "alpha bravo charlie delta echo"}, {"max_len_b", 4}};
    // A decoding option documents its default (the value a request sets it to here); the others are flags.
    EXPECT_EQ(schema.contains("default"), schema.value("x-decoding-option", false)) << field;
    body[field] = schema.contains("default") ? schema["default"] : json(false);
    if (field == "max_len_b") body[field] = 4;
    r = c.Post("/v1/summarize", body.dump(), "application/json");
    ASSERT_TRUE(r) << field;
    EXPECT_EQ(r->status, 200) << field << ": " << r->body;
  }
  // The default length fits the model; a longer one is answered with a warning.
  r = c.Post("/v1/summarize", R"({"document": "alpha bravo"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_FALSE(body_of(r).contains("warnings")) << r->body;
  r = c.Post("/v1/summarize", R"({"document": "alpha bravo", "max_len_b": 1000})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(body_of(r)["warnings"][0].get<std::string>().find("the model generates at most 31"), std::string::npos)
      << r->body;
  // nbest: the hypotheses, best first, the first being the summary.
  r = c.Post("/v1/summarize", R"({"document": "alpha bravo charlie", "beam": 3, "nbest": 3, "max_len_b": 6})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  {
    const json item = body_of(r)["summaries"][0];
    ASSERT_GE(item["hypotheses"].size(), 2u) << r->body;
    EXPECT_EQ(item["hypotheses"][0]["summary"], item["summary"]);
    EXPECT_GE(item["hypotheses"][0]["score"].get<double>(), item["hypotheses"][1]["score"].get<double>());
  }
  expect_error(c.Post("/v1/summarize", R"({"document": "alpha", "beam": 2, "nbest": 3})", "application/json"), 400,
               "nbest");
  r = c.Post("/v1/summarize", R"({"document": "alpha", "undocumented": 1})", "application/json");
  expect_error(r, 400, "unknown field \"undocumented\"");

  // Request ids: new and distinct when the client sends none, the client's own echoed, on errors too, in the log.
  r = c.Get("/health");
  const std::string first = r->get_header_value("X-Request-Id");
  r = c.Get("/health");
  const std::string second = r->get_header_value("X-Request-Id");
  EXPECT_FALSE(first.empty());
  EXPECT_NE(first, second);
  r = c.Post("/v1/summarize", httplib::Headers{{"X-Request-Id", "trace-42.a"}}, doc, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "trace-42.a");
  r = c.Get("/health", httplib::Headers{{"x-request-id", "probe-1"}});  // answered by the connection gate itself
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "probe-1");
  r = c.Get("/nowhere", httplib::Headers{{"X-Request-Id", "lost-7"}});
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "lost-7");
  r = c.Post("/v1/summarize", "{not json", "application/json");
  EXPECT_FALSE(r->get_header_value("X-Request-Id").empty());
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {  // the log line is written after the response
    logged = s.stderr_text().find("request trace-42.a POST /v1/summarize -> 200") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(logged) << s.stderr_text();

  r = c.Get("/metrics");
  ASSERT_TRUE(r);
  for (const char* name : {"pyramidion_queue_duration_seconds_count", "pyramidion_generation_duration_seconds_count"}) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r->body, m, std::regex(std::string(name) + " (\\d+)"))) << name << "\n" << r->body;
    EXPECT_GE(std::stoi(m[1]), 1) << name;
  }
}

// "stream": true answers with server-sent events: one "token" event per generated token (its text so far), then a
// "summary" event with the same answer (and the same summary) as the request without streaming.
TEST_F(Serve, StreamingSendsEachTokenThenTheSameSummary) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  const std::string request =
      R"({"document": "alpha bravo charlie delta echo foxtrot golf", "beam": 1, "max_len_b": 12)";
  auto plain = c.Post("/v1/summarize", request + "}", "application/json");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  const json expected = body_of(plain)["summaries"][0];

  auto r = c.Post("/v1/summarize", request + R"(, "stream": true})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_FALSE(r->get_header_value("X-Request-Id").empty());
  std::vector<std::pair<std::string, json>> events;
  size_t at = 0;
  while (at < r->body.size()) {
    const size_t end = r->body.find("\n\n", at);
    ASSERT_NE(end, std::string::npos) << "an event without its blank line: " << r->body.substr(at);
    const std::string block = r->body.substr(at, end - at);
    ASSERT_EQ(block.rfind("event: ", 0), 0u) << block;
    const size_t newline = block.find('\n');
    ASSERT_EQ(block.compare(newline + 1, 6, "data: "), 0) << block;
    events.emplace_back(block.substr(7, newline - 7), json::parse(block.substr(newline + 7)));
    at = end + 2;
  }
  ASSERT_GE(events.size(), 2u) << r->body;
  ASSERT_EQ(events.back().first, "summary") << r->body;
  const json streamed = events.back().second["summaries"][0];
  EXPECT_EQ(streamed["summary"], expected["summary"]);
  EXPECT_EQ(streamed["tokens"], expected["tokens"]);
  EXPECT_DOUBLE_EQ(streamed["score"].get<double>(), expected["score"].get<double>());
  ASSERT_EQ(static_cast<int64_t>(events.size()) - 1, expected["tokens"].get<int64_t>()) << r->body;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].first, "token");
    EXPECT_EQ(events[i].second["index"], static_cast<int64_t>(i));
  }
  // The text grows token by token to the summary (sentence breaks aside).
  std::string last = events[events.size() - 2].second["text"], summary = expected["summary"];
  for (std::string* t : {&last, &summary})
    for (char& ch : *t)
      if (ch == '\n') ch = ' ';
  EXPECT_EQ(last, summary);

  expect_error(c.Post("/v1/summarize", R"({"document": "alpha", "beam": 2, "stream": true})", "application/json"), 400,
               "\"stream\" needs one document, \"beam\": 1");
  expect_error(c.Post("/v1/summarize", R"({"documents": ["a", "b"], "beam": 1, "stream": true})", "application/json"),
               400, "\"stream\" needs one document");
}

TEST_F(Serve, HighlightsAreTheSameNumbersAsTheCommand) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  const std::vector<std::string> docs = {document(21, 30) + " . " + document(22, 20) + " .", document(23, 12)};
  json request = {{"documents", docs}, {"beam", 2}, {"max_len_b", 8}, {"min_len", 2}, {"return_highlights", true}};
  auto r = c.Post("/v1/summarize", request.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto summaries = body_of(r)["summaries"];
  ASSERT_EQ(summaries.size(), 2u);
  for (size_t i = 0; i < docs.size(); ++i) {
    SCOPED_TRACE("document " + std::to_string(i));
    const auto& h = summaries[i]["highlights"];
    ASSERT_TRUE(h.is_object()) << summaries[i].dump();
    EXPECT_EQ(h["pooled"], true);
    EXPECT_EQ(h["layers"].size(), 2u);
    EXPECT_EQ(h["summary"], summaries[i]["summary"]);
    const std::string input = dir_->file("highlight-" + std::to_string(i) + ".txt");
    const std::string output = dir_->file("highlight-" + std::to_string(i) + ".json");
    std::ofstream(input) << docs[i];
    auto cli = testing::run_cli("--threads 1 highlight -m '" + model_path_ + "' --dtype float64 -i '" + input +
                                "' --input-format whole --json '" + output + "' --beam 2 --max-len-b 8 --min-len 2");
    ASSERT_EQ(cli.exit_code, 0) << cli.output;
    std::ifstream in(output);
    json expected = json::parse(in);
    for (const char* key : {"ranking", "summary", "source_tokens", "truncated"})
      EXPECT_EQ(h[key], expected[key]) << key;
    ASSERT_EQ(h["layers"].size(), expected["layers"].size());
    for (size_t l = 0; l < h["layers"].size(); ++l)
      for (const auto& [field, value] : expected["layers"][l].items()) {
        if (value.is_number_float())  // batch padding moves the last bits of float64 sums
          EXPECT_NEAR(h["layers"][l][field].get<double>(), value.get<double>(), 1e-12) << field;
        else
          EXPECT_EQ(h["layers"][l][field], value) << field;
      }
    ASSERT_EQ(h["words"].size(), expected["words"].size());
    for (size_t w = 0; w < h["words"].size(); ++w) {
      EXPECT_EQ(h["words"][w]["text"], expected["words"][w]["text"]);
      for (size_t l = 0; l < 2; ++l)
        EXPECT_NEAR(h["words"][w]["shares"][l].get<double>(), expected["words"][w]["shares"][l].get<double>(), 1e-12);
    }
    EXPECT_EQ(h["summary_words"].size(), expected["summary_words"].size());
    EXPECT_EQ(h["tokens"].size(), expected["tokens"].size());
  }
  // Without the flag: no highlights, and those requests never batch with highlight ones.
  r = c.Post("/v1/summarize", json{{"document", docs[1]}, {"beam", 2}, {"max_len_b", 8}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(body_of(r)["summaries"][0].contains("highlights"));
}

TEST_F(Serve, BadRequestsGetOneLineErrors) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  auto post = [&](const std::string& body) { return c.Post("/v1/summarize", body, "application/json"); };
  expect_error(post("{\"document\": "), 400, "malformed JSON");
  expect_error(post("[1, 2]"), 400, "must be a JSON object");
  expect_error(post("{}"), 400, "missing \"documents\"");
  expect_error(post(R"({"documents": "text"})"), 400, "\"documents\" must be an array of strings");
  expect_error(post(R"({"documents": ["a", 3]})"), 400, "\"documents[1]\" must be a string");
  expect_error(post(R"({"documents": []})"), 400, "\"documents\" is empty");
  expect_error(post(R"({"document": "  "})"), 400, "\"document\" is empty");
  expect_error(post(R"({"document": "alpha", "documents": ["bravo"]})"), 400, "not both");
  expect_error(post(R"({"document": "alpha", "beam": "4"})"), 400, "\"beam\" must be an integer");
  expect_error(post(R"({"document": "alpha", "lenpen": "x"})"), 400, "\"lenpen\" must be a number");
  expect_error(post(R"({"document": "alpha", "colour": 1})"), 400, "unknown field \"colour\"");
  // The decoding options are checked by the library's validate(), the same function the CLI uses.
  expect_error(post(R"({"document": "alpha", "beam": 0})"), 400, "\"beam\" must be in [1, 1024] (got 0)");
  expect_error(post(R"({"document": "alpha", "max_len_b": -1})"), 400, "\"max_len_b\" must be >= 0 (got -1)");
  expect_error(post(R"({"document": "alpha", "no_repeat_ngram_size": -2})"), 400,
               "\"no_repeat_ngram_size\" must be >= 0");
  expect_error(post(R"({"document": "alpha", "beam": 9})"), 400, "\"beam\" must be <= 8 on this server");
  auto cli = testing::run_cli("summarize -m '" + model_path_ + "' --max-len-b -1 -i /dev/null");
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.output.find("--max-len-b must be >= 0 (got -1)"), std::string::npos) << cli.output;

  expect_error(post(R"({"document": "alpha", "return_highlights": 1})"), 400, "must be true or false");
  expect_error(post("{\"document\": \"" + std::string(70000, 'a') + "\"}"), 413, "--max-body-bytes");
  // A document longer than the model's 64 positions is truncated, not refused.
  auto r = post("{\"document\": \"" + document(5, 100) + "\", \"beam\": 1, \"max_len_b\": 4}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["summaries"][0]["truncated"], true);
  EXPECT_EQ(body_of(r)["summaries"][0]["source_tokens"], 64);
  // Still alive and answering after all that.
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Serve, ConcurrentRequestsAreBatchedAndEqualTheCli) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  constexpr int kClients = 8;
  std::vector<std::string> docs;
  std::ofstream input(dir_->file("docs.txt"));
  for (int i = 0; i < kClients; ++i) {
    docs.push_back(document(i, 10 + 5 * i));
    input << docs.back() << "\n";
  }
  input.close();
  auto cli = testing::run_cli("--threads 1 summarize -m '" + model_path_ +
                              "' --dtype float64 --input-format text -i '" + dir_->file("docs.txt") + "' -o '" +
                              dir_->file("cli.jsonl") + "' --beam 3 --max-len-b 10 --no-repeat-ngram-size 2");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  std::vector<std::string> expected;
  std::ifstream out(dir_->file("cli.jsonl"));
  for (std::string line; std::getline(out, line);) expected.push_back(json::parse(line)["summary"]);
  ASSERT_EQ(expected.size(), docs.size());

  auto metrics_before = client(s.port()).Get("/metrics");
  ASSERT_TRUE(metrics_before);
  std::vector<std::string> got(kClients);
  std::vector<int> statuses(kClients, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      auto c = client(s.port());
      json body = {{"document", docs[i]}, {"beam", 3}, {"max_len_b", 10}, {"no_repeat_ngram_size", 2}};
      auto r = c.Post("/v1/summarize", body.dump(), "application/json");
      if (!r) return;
      statuses[i] = r->status;
      if (r->status == 200) got[i] = json::parse(r->body)["summaries"][0]["summary"];
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(statuses[i], 200) << "client " << i;
    EXPECT_EQ(got[i], expected[i]) << "client " << i;
  }
  // A batch count below the request count means some batches held several callers' documents.
  auto batches = [](const std::string& metrics) {
    std::smatch m;
    std::regex_search(metrics, m, std::regex("pyramidion_batch_documents_count (\\d+)"));
    return m.empty() ? -1L : std::stol(m[1]);
  };
  auto metrics_after = client(s.port()).Get("/metrics");
  ASSERT_TRUE(metrics_after);
  const long batches_run = batches(metrics_after->body) - batches(metrics_before->body);
  EXPECT_GE(batches_run, 1);
  EXPECT_LT(batches_run, kClients) << metrics_after->body;

  // One request with all documents gives the same again, in order.
  json all = {{"documents", docs}, {"beam", 3}, {"max_len_b", 10}, {"no_repeat_ngram_size", 2}};
  auto r = client(s.port()).Post("/v1/summarize", all.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(body_of(r)["summaries"][i]["summary"], expected[i]) << i;
}

// Sampling through the server: a document's sample depends on the seed and its index in its own request, not on
// the requests it was batched with (concurrent single-document requests equal the same requests one at a time);
// a two-document request equals the CLI's first two lines for the same seed; another seed differs.
TEST_F(Serve, SampledSummariesDoNotDependOnTheBatching) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  constexpr int kClients = 6;
  std::vector<std::string> docs;
  std::ofstream input(dir_->file("sampled.txt"));
  for (int i = 0; i < kClients; ++i) {
    docs.push_back(document(100 + i, 12 + 3 * i));
    input << docs.back() << "\n";
  }
  input.close();
  auto request = [&](const json& documents, int seed) {
    json body = {{"documents", documents}, {"beam", 2},          {"max_len_b", 10}, {"sampling", true},
                 {"sampling_topk", 8},     {"temperature", 1.5}, {"seed", seed}};
    auto r = client(s.port()).Post("/v1/summarize", body.dump(), "application/json");
    std::vector<std::string> summaries;
    if (!r || r->status != 200) {
      ADD_FAILURE() << (r ? r->body : std::string("no answer"));
      return summaries;
    }
    const json answer = json::parse(r->body);
    for (const auto& summary : answer["summaries"]) summaries.push_back(summary["summary"]);
    return summaries;
  };
  std::vector<std::string> alone;
  for (int i = 0; i < kClients; ++i) alone.push_back(request(json::array({docs[i]}), 7).at(0));
  std::vector<std::string> together(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      auto got = request(json::array({docs[i]}), 7);
      if (!got.empty()) together[i] = got[0];
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(together[i], alone[i]) << "client " << i;

  auto cli =
      testing::run_cli("--threads 1 summarize -m '" + model_path_ + "' --dtype float64 --input-format text -i '" +
                       dir_->file("sampled.txt") + "' -o '" + dir_->file("sampled.jsonl") +
                       "' --beam 2 --max-len-b 10 --sampling --sampling-topk 8 --temperature 1.5 --seed 7");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  std::vector<std::string> from_cli;
  std::ifstream out(dir_->file("sampled.jsonl"));
  for (std::string line; std::getline(out, line);) from_cli.push_back(json::parse(line)["summary"]);
  ASSERT_EQ(from_cli.size(), docs.size());
  const auto pair = request(json::array({docs[0], docs[1]}), 7);
  ASSERT_EQ(pair.size(), 2u);
  EXPECT_EQ(pair[0], from_cli[0]);
  EXPECT_EQ(pair[1], from_cli[1]);
  EXPECT_EQ(pair[0], alone[0]);  // index 0 in both requests

  int differing = 0;
  for (int i = 0; i < kClients; ++i) differing += request(json::array({docs[i]}), 8).at(0) != alone[i];
  EXPECT_GE(differing, kClients / 2) << "seed 8 against seed 7";
}

TEST_F(Serve, QueueFullTimeoutAndDocumentLimit) {
  ServerProcess s({"-m", model_path_, "--timeout-s", "0.001", "--max-queue", "1", "--max-wait-ms", "100"},
                  dir_->file("limits"));
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  auto r = c.Post("/v1/summarize", R"({"documents": ["alpha bravo", "charlie delta"]})", "application/json");
  expect_error(r, 503, "queue full");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  expect_error(c.Post("/v1/summarize", R"({"document": "alpha bravo"})", "application/json"), 504, "");
  EXPECT_EQ(s.terminate(), 0) << s.stderr_text();

  ServerProcess t({"-m", model_path_, "--max-document-tokens", "4", "--max-documents-per-request", "2"},
                  dir_->file("tokens"));
  ASSERT_TRUE(t.running()) << t.stderr_text();
  auto d = client(t.port());
  r = d.Post("/v1/summarize", R"({"document": "alpha bravo charlie delta echo", "beam": 1, "max_len_b": 3})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(body_of(r)["summaries"][0]["truncated"], true);
  EXPECT_EQ(body_of(r)["summaries"][0]["source_tokens"], 4);
  expect_error(d.Post("/v1/summarize", R"({"documents": ["a", "b", "c"]})", "application/json"), 413,
               "3 documents in one request (at most 2)");
  EXPECT_EQ(t.terminate(), 0) << t.stderr_text();
}

// A raw loopback connection (a client that sends what it likes, as slowly as it likes); -1 when it cannot connect.
int raw_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  timeval timeout{10, 0};  // every read below is bounded
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

bool send_text(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// What the server sends until it closes (or 10 s pass).
std::string read_answer(int fd) {
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, static_cast<size_t>(n));
  return answer;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One counter or gauge line of /metrics ("" when absent).
double metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  if (!r) return -1;
  std::smatch match;
  if (!std::regex_search(r->body, match, std::regex("\n" + name + " ([0-9.e+]+)"))) return 0;
  return std::stod(match[1]);
}

// Issue 21, finding 6: more slow clients than HTTP threads (heads trickling in, a body that stops short) neither
// delay /health nor take the workers; each gets 408 when its whole-request deadline passes.
TEST_F(Serve, SlowClientsNeverDelayHealthAndGet408AtTheRequestDeadline) {
  ServerProcess s({"-m", model_path_, "--http-threads", "2", "--request-timeout-s", "2"}, dir_->file("slow"));
  ASSERT_TRUE(s.running()) << s.stderr_text();
  std::vector<int> slow;
  for (int i = 0; i < 8; ++i) {  // 8 heads that never end, on 2 HTTP threads
    const int fd = raw_connect(s.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_text(fd, "POST /v1/summarize HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    slow.push_back(fd);
  }
  const int short_body = raw_connect(s.port());  // a complete head, then 10 of 100 body bytes
  ASSERT_GE(short_body, 0);
  ASSERT_TRUE(send_text(short_body,
                        "POST /v1/summarize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100\r\n\r\n{\"documen"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto c = client(s.port());
  auto start = std::chrono::steady_clock::now();
  auto r = c.Get("/health");
  ASSERT_TRUE(r) << s.stderr_text();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  EXPECT_LT(seconds_since(start), 1.0);
  start = std::chrono::steady_clock::now();
  r = c.Get("/ready");  // a worker is free: slow heads never reached one
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(seconds_since(start), 1.0);
  for (int fd : slow) {
    const std::string answer = read_answer(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
    ::close(fd);
  }
  const std::string answer = read_answer(short_body);
  ::close(short_body);
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
  EXPECT_NE(answer.find("--request-timeout-s"), std::string::npos) << answer;
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(s.terminate(), 0) << s.stderr_text();
}

// Issue 21, finding 6: a client that leaves while its long request generates has it cancelled (between batches and
// decoding steps), so the next small request is served at once instead of after it.
TEST_F(Serve, AClientThatLeavesHasItsGenerationCancelled) {
  ServerProcess s({"-m", model_path_, "--max-batch-documents", "1", "--max-wait-ms", "0", "--workers", "1",
                   "--max-documents-per-request", "4000", "--max-request-beams", "100000", "--max-queue", "4000"},
                  dir_->file("leave"));
  ASSERT_TRUE(s.running()) << s.stderr_text();
  // 4000 documents generated one batch each, 31 tokens at beam 4: minutes of work on one worker.
  json documents = json::array();
  for (int i = 0; i < 4000; ++i) documents.push_back(document(static_cast<uint64_t>(i), 12));
  const std::string body = json{{"documents", documents}, {"beam", 4}, {"min_len", 31}, {"max_len_b", 31}}.dump();
  const int fd = raw_connect(s.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_text(fd,
                        "POST /v1/summarize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
  auto c = client(s.port());
  bool generating = false;
  for (int i = 0; i < 200 && !generating; ++i) {  // until its first batch runs (at most 20 s)
    generating = metric(c, "pyramidion_batch_documents_count") >= 1;
    if (!generating) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(generating) << s.stderr_text();
  ::close(fd);  // the client leaves
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {  // at most 10 s
    cancelled = metric(c, "pyramidion_generation_cancelled_documents_total") >= 4000;
    if (!cancelled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(cancelled) << s.stderr_text();
  const auto start = std::chrono::steady_clock::now();
  auto r =
      c.Post("/v1/summarize", R"({"document": "alpha bravo charlie", "beam": 1, "max_len_b": 3})", "application/json");
  ASSERT_TRUE(r) << s.stderr_text();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_LT(seconds_since(start), 5.0);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("pyramidion_requests_cancelled_total{reason=\"client_gone\"} 1"), std::string::npos)
      << m->body;
  EXPECT_EQ(s.terminate(), 0) << s.stderr_text();
  EXPECT_NE(s.stderr_text().find("cancelled"), std::string::npos) << s.stderr_text();
}

// Issue 21: per-request work limits, numbers beyond double, and option bounds (one-line errors naming them).
TEST_F(Serve, WorkLimitsHugeNumbersAndOptionBounds) {
  auto& s = server();
  ASSERT_TRUE(s.running()) << s.stderr_text();
  auto c = client(s.port());
  auto post = [&](const std::string& body) { return c.Post("/v1/summarize", body, "application/json"); };
  expect_error(post(R"({"document": "alpha", "lenpen": 1e400})"), 400, "\"lenpen\" is out of range");
  expect_error(post(R"({"document": "alpha", "max_len_a": -1e999})"), 400, "\"max_len_a\" is out of range");
  expect_error(post("{\"document\": \"alpha\", \"x\": " + std::string(5000, '[') + std::string(5000, ']') + "}"), 400,
               "nested deeper");
  json many = json::array();
  for (int i = 0; i < 129; ++i) many.push_back("alpha bravo");
  expect_error(post(json{{"documents", many}, {"beam", 8}}.dump()), 413, "--max-request-beams");

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--timeout-s", "1e10"},
                                              {"--http-threads", "100000"},
                                              {"--workers", "100000"},
                                              {"--max-beam", "100000"},
                                              {"--shutdown-grace-s", "1e300"},
                                              {"--request-timeout-s", "0"}}) {
    std::vector<std::string> arguments = {"-m", model_path_};
    arguments.insert(arguments.end(), bad.begin(), bad.end());
    ServerProcess refused(arguments, dir_->file("bounds"));
    EXPECT_FALSE(refused.running()) << bad[0];
    EXPECT_NE(refused.terminate(), 0) << bad[0];
    const std::string err = refused.stderr_text();
    EXPECT_NE(err.find(bad[0]), std::string::npos) << err;
  }
  // A port file that cannot be written is an error, not silence.
  ServerProcess no_file({"-m", model_path_, "--port-file", dir_->file("missing-directory/port")},
                        dir_->file("portfile"));
  EXPECT_NE(no_file.terminate(5), 0);
  EXPECT_NE(no_file.stderr_text().find("--port-file"), std::string::npos) << no_file.stderr_text();
}

TEST_F(Serve, SigtermDuringARequestLetsItFinishAndExitsZero) {
  // The request waits up to 3 s for company in the queue; SIGTERM comes while it waits.
  ServerProcess s({"-m", model_path_, "--max-batch-documents", "64", "--max-wait-ms", "3000"}, dir_->file("term"));
  ASSERT_TRUE(s.running()) << s.stderr_text();
  std::unique_ptr<httplib::Result> result;
  std::thread request([&] {
    auto c = client(s.port());
    result = std::make_unique<httplib::Result>(c.Post(
        "/v1/summarize", R"({"document": "alpha bravo charlie", "beam": 2, "max_len_b": 5})", "application/json"));
  });
  // Wait until the request is queued (visible in /metrics), then signal.
  auto c = client(s.port());
  for (int i = 0; i < 200; ++i) {
    auto m = c.Get("/metrics");
    if (m && m->body.find("pyramidion_queue_documents 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto signalled = std::chrono::steady_clock::now();
  s.send_sigterm();
  request.join();
  ASSERT_TRUE(result && *result) << s.stderr_text();
  EXPECT_EQ((*result)->status, 200) << (*result)->body;
  EXPECT_EQ(json::parse((*result)->body)["summaries"].size(), 1u);
  // Shutdown cut the 3 s wait short: the queue is drained at once.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count(), 2.5);
  EXPECT_EQ(s.wait_exit(20), 0) << s.stderr_text();
  // Nothing listens any more.
  auto after = client(s.port());
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/health"));
}

// Issue 21: cpp-httplib's SO_REUSEPORT let a second `serve` bind a port in use and silently take half its requests.
TEST_F(Serve, ASecondServerOnAPortInUseIsRefused) {
  ServerProcess& first = server();
  ASSERT_TRUE(first.running()) << first.stderr_text();
  const std::string port = std::to_string(first.port());
  // Bounded: a second server that binds anyway would serve until `timeout` ends it (exit 124).
  const auto second = testing::run_cli_within(
      30, "--threads 1 serve -m '" + model_path_ + "' --dtype float64 --host 127.0.0.1 --port " + port);
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_NE(second.output.find("cannot bind 127.0.0.1:" + port + " (in use by another process"), std::string::npos)
      << second.output;
  auto health = client(first.port()).Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// int8 from every front end (issue 24): `quantize` writes an int8 file that `info` names as such; `summarize
// --compute-type int8` on the float file and `summarize` on the int8 file give the same summaries; a server on the
// int8 file answers; a bad compute type is a one-line usage error naming the option.
TEST_F(Serve, Int8FromTheCommandLineAndTheServer) {
  const std::string int8_path = dir_->file("tiny-int8.pt");
  auto quantize = testing::run_cli("--threads 1 quantize '" + model_path_ + "' -o '" + int8_path + "'");
  ASSERT_EQ(quantize.exit_code, 0) << quantize.output;
  EXPECT_NE(quantize.output.find("x smaller"), std::string::npos) << quantize.output;
  auto info = testing::run_cli("info '" + int8_path + "' --json");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  const json described = json::parse(info.output.substr(info.output.find('{')));
  EXPECT_EQ(described["compute_type"], "int8_float32");
  EXPECT_EQ(described["format_version"], 3);

  {
    std::ofstream input(dir_->file("int8-docs.txt"));
    for (int i = 0; i < 6; ++i) input << document(300 + i, 20) << "\n";
  }
  const std::string common = " --input-format text -i '" + dir_->file("int8-docs.txt") + "' --beam 2 --max-len-b 8 -o ";
  auto at_load = testing::run_cli("--threads 1 summarize -m '" + model_path_ + "' --compute-type int8" + common + "'" +
                                  dir_->file("int8-at-load.jsonl") + "'");
  ASSERT_EQ(at_load.exit_code, 0) << at_load.output;
  auto from_file = testing::run_cli("--threads 1 summarize -m '" + int8_path + "'" + common + "'" +
                                    dir_->file("int8-file.jsonl") + "'");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
  const auto read_all = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read_all(dir_->file("int8-at-load.jsonl")), read_all(dir_->file("int8-file.jsonl")));
  EXPECT_NE(read_all(dir_->file("int8-file.jsonl")).find("\"summary\""), std::string::npos);

  auto bad = testing::run_cli("summarize -m '" + model_path_ + "' --compute-type int4 -i '" +
                              dir_->file("int8-docs.txt") + "'");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--compute-type"), std::string::npos) << bad.output;
  auto float_of_int8 = testing::run_cli("summarize -m '" + int8_path + "' --compute-type float32 -i '" +
                                        dir_->file("int8-docs.txt") + "'");
  EXPECT_EQ(float_of_int8.exit_code, 1) << float_of_int8.output;
  EXPECT_NE(float_of_int8.output.find("--compute-type float32: the model file holds int8 weights"), std::string::npos)
      << float_of_int8.output;

  ServerProcess int8_server(std::vector<std::string>{"-m", int8_path, "--max-batch-documents", "4"},
                            dir_->file("int8-server"));
  ASSERT_TRUE(int8_server.running()) << int8_server.stderr_text();
  auto c = client(int8_server.port());
  auto model = c.Get("/v1/model");
  ASSERT_TRUE(model);
  EXPECT_EQ(body_of(model)["compute_type"], "int8_float32");
  auto r = c.Post("/v1/summarize", R"({"document": "alpha bravo charlie delta echo", "beam": 2, "max_len_b": 8})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(body_of(r)["summaries"][0]["summary"].is_string()) << r->body;
  EXPECT_EQ(int8_server.terminate(), 0) << int8_server.stderr_text();
}

}  // namespace
}  // namespace pyramidion

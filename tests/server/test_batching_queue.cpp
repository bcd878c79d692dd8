// The batching queue with a fake batch function: concurrent requests share one call, each caller gets its own
// results, different decoding options never share a batch, a full queue and a passed deadline are reported.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "server/batching_queue.h"
#include "server/metrics_registry.h"

namespace pyramidion::server {
namespace {

using Clock = BatchingQueue::Clock;

struct Recorder {
  std::mutex mutex;
  std::vector<std::vector<std::string>> batches;
  std::vector<int64_t> beams;
  // Each document's "summary" is the document itself plus the beam, so a wrong delivery shows.
  BatchingQueue::BatchFunction function() {
    return [this](const std::vector<std::string>& docs, const GenerationOptions& options) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        batches.push_back(docs);
        beams.push_back(options.search.beam);
      }
      std::vector<DocumentSummary> out(docs.size());
      for (size_t i = 0; i < docs.size(); ++i) {
        out[i].hypotheses.push_back({docs[i] + "/" + std::to_string(options.search.beam), {}, 0.0});
        out[i].source_tokens = static_cast<int64_t>(docs[i].size());
      }
      return out;
    };
  }
};

TEST(BatchingQueue, ConcurrentRequestsShareOneBatchAndGetTheirOwnResults) {
  Recorder recorder;
  BatchingOptions options;
  options.max_batch_documents = 8;
  options.max_wait_ms = 2000;  // the batch closes when full, long before this
  BatchingQueue queue(recorder.function(), options);
  GenerationOptions generation;
  std::vector<std::future<std::vector<DocumentSummary>>> futures;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < 4; ++i)
    futures.push_back(queue.submit({"a" + std::to_string(i), "b" + std::to_string(i)}, generation, deadline));
  for (int i = 0; i < 4; ++i) {
    auto results = futures[i].get();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].hypotheses[0].text, "a" + std::to_string(i) + "/4");
    EXPECT_EQ(results[1].hypotheses[0].text, "b" + std::to_string(i) + "/4");
  }
  ASSERT_EQ(recorder.batches.size(), 1u);  // 4 x 2 documents = one full batch
  EXPECT_EQ(recorder.batches[0].size(), 8u);
  EXPECT_EQ(queue.queued_documents(), 0);
}

TEST(BatchingQueue, DifferentOptionsAreNeverMixedAndTheBatchLimitHolds) {
  Recorder recorder;
  BatchingOptions options;
  options.max_batch_documents = 3;
  options.max_wait_ms = 50;
  BatchingQueue queue(recorder.function(), options);
  GenerationOptions beam2, beam3;
  beam2.search.beam = 2;
  beam3.search.beam = 3;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::vector<std::future<std::vector<DocumentSummary>>> futures;
  std::vector<int64_t> beams;
  for (int i = 0; i < 10; ++i) {
    const auto& g = i % 2 ? beam3 : beam2;
    futures.push_back(queue.submit({"d" + std::to_string(i)}, g, deadline));
    beams.push_back(g.search.beam);
  }
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(futures[i].get()[0].hypotheses[0].text, "d" + std::to_string(i) + "/" + std::to_string(beams[i]));
  size_t documents = 0;
  for (size_t b = 0; b < recorder.batches.size(); ++b) {
    EXPECT_LE(recorder.batches[b].size(), 3u);
    for (const auto& d : recorder.batches[b]) {
      const int i = std::stoi(d.substr(1));
      EXPECT_EQ(beams[i], recorder.beams[b]) << "document " << d << " in a batch of beam " << recorder.beams[b];
    }
    documents += recorder.batches[b].size();
  }
  EXPECT_EQ(documents, 10u);
  EXPECT_GE(recorder.batches.size(), 4u);  // 5 + 5 documents in batches of at most 3
}

TEST(BatchingQueue, FullQueueDeadlineAndShutdown) {
  std::atomic<bool> release{false};
  BatchingOptions options;
  options.max_batch_documents = 1;
  options.max_wait_ms = 0;
  options.max_queue = 2;
  std::atomic<int> calls{0};
  BatchingQueue queue(
      [&](const std::vector<std::string>& docs, const GenerationOptions&) {
        ++calls;
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return std::vector<DocumentSummary>(docs.size());
      },
      options);
  GenerationOptions generation;
  const auto later = Clock::now() + std::chrono::seconds(30);
  auto first = queue.submit({"x"}, generation, later);  // taken by the worker, which blocks
  while (calls == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto expired = queue.submit({"y"}, generation, Clock::now());  // its deadline has passed when a worker gets to it
  auto waiting = queue.submit({"z"}, generation, later);
  EXPECT_THROW(queue.submit({"w"}, generation, later), QueueFull);  // 2 documents wait already
  release = true;
  EXPECT_EQ(first.get().size(), 1u);
  EXPECT_THROW(expired.get(), DeadlineExceeded);
  EXPECT_EQ(waiting.get().size(), 1u);
  EXPECT_EQ(calls.load(), 2);  // the expired request was never generated
  queue.shutdown();
  EXPECT_THROW(queue.submit({"v"}, generation, later), QueueClosed);
}

TEST(MetricsRegistry, RendersPrometheusText) {
  MetricsRegistry registry;
  registry.counter("x_total", "things").add(2, "status=\"200\"");
  registry.counter("x_total", "things").add(1, "status=\"400\"");
  registry.gauge("depth", "waiting").set(3);
  auto& h = registry.histogram("lat_seconds", "latency", {0.1, 1});
  h.observe(0.0625);
  h.observe(0.5);
  h.observe(5);
  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE x_total counter\nx_total{status=\"200\"} 2\nx_total{status=\"400\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE depth gauge\ndepth 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"1\"} 2\n"
                      "lat_seconds_bucket{le=\"+Inf\"} 3\nlat_seconds_sum 5.5625\nlat_seconds_count 3\n"),
            std::string::npos)
      << text;
  EXPECT_THROW(registry.gauge("x_total", "not a gauge"), std::logic_error);
}

}  // namespace
}  // namespace pyramidion::server

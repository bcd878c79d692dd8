// The architecture benchmark at toy size: JSON layout, ratios against the baseline, FLOPs of pooling, its SVG
// plot (plot/svg_plot.h), and the too-slow / memory-guard paths.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pyramidion/benchmark/architecture_benchmark.h"
#include "well_formed_xml.h"

namespace pyramidion {
namespace {

ModelConfig toy(int64_t chunk, std::map<int64_t, int64_t> pooling) {
  ModelConfig c;
  c.vocab_size = 64;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 32;
  c.encoder_layers = 4;
  c.decoder_layers = 2;
  c.chunk_size = chunk;
  c.pooling.schedule = std::move(pooling);
  c.max_source_positions = 64;
  c.max_target_positions = 16;
  return c;
}

std::vector<ArchitectureSpec> toy_architectures() {
  return {{"deep-pyramidion", toy(32, {{0, 64}, {1, 32}, {2, 16}})}, {"blockwise", toy(32, {})}};
}

ArchitectureBenchmarkOptions toy_options() {
  ArchitectureBenchmarkOptions o;
  o.lengths = {64, 128};
  o.batch = 1;
  o.target_length = 8;
  o.steps = 1;
  o.warmup = 1;
  o.gen_tokens = 4;
  o.beam = 2;
  o.gen_batch = 1;
  return o;
}

// One intra-op thread: the toy models are too small to split, and on a loaded 2-core machine waiting for a
// second thread costs more than the work.
class ArchitectureBenchmarkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_ = torch::get_num_threads();
    torch::set_num_threads(1);
  }
  void TearDown() override { torch::set_num_threads(threads_); }
  int threads_ = 1;
};

TEST_F(ArchitectureBenchmarkTest, ToySweepJsonRatiosFlopsAndSvg) {
  const auto archs = toy_architectures();
  const auto result = run_architecture_benchmark(archs, toy_options());
  const auto json = result.to_json();

  EXPECT_EQ(json["benchmark"], "architectures");
  EXPECT_EQ(json["baseline"], "blockwise");
  EXPECT_EQ(json["device"], "cpu");
  EXPECT_FALSE(json["memory_method"].get<std::string>().empty());
  ASSERT_EQ(json["architectures"].size(), 2u);
  EXPECT_EQ(json["architectures"][0]["pooling"]["1"], 32);
  ASSERT_EQ(json["points"].size(), 4u);  // 2 lengths x 2 architectures, length-major
  for (const auto& p : json["points"]) {
    SCOPED_TRACE(p.dump());
    for (const char* kind : {"training", "inference"}) {
      EXPECT_EQ(p[kind]["status"], "ok");
      EXPECT_EQ(p[kind]["seconds"].size(), 1u);
      EXPECT_GT(p[kind]["median_seconds"].get<double>(), 0);
      EXPECT_TRUE(p[kind]["peak_memory_bytes"].is_number());
      EXPECT_GT(p[kind]["estimated_memory_bytes"].get<double>(), 0);
    }
    EXPECT_GT(p["training"]["tokens_per_second"].get<double>(), 0);
    EXPECT_GT(p["inference"]["generated_tokens_per_second"].get<double>(), 0);
    for (const char* key : {"encoder_self", "decoder_cross", "decoder_self"})
      EXPECT_GT(p["attention_flops"][key].get<double>(), 0);
    for (const char* key : {"training_time", "training_memory", "inference_time", "inference_memory"})
      ASSERT_TRUE(p["ratios"].contains(key));
    if (p["architecture"] == "blockwise") {
      EXPECT_DOUBLE_EQ(p["ratios"]["training_time"].get<double>(), 1.0);
      EXPECT_DOUBLE_EQ(p["ratios"]["inference_time"].get<double>(), 1.0);
      // Peak growth of a toy model can round to zero pages: then there is no memory ratio.
      for (const char* key : {"training_memory", "inference_memory"})
        if (!p["ratios"][key].is_null()) EXPECT_DOUBLE_EQ(p["ratios"][key].get<double>(), 1.0);
    } else {
      EXPECT_TRUE(p["ratios"]["training_time"].is_number());
    }
  }
  EXPECT_EQ(json["points"][0]["length"], 64);
  EXPECT_EQ(json["points"][3]["length"], 128);

  // Pooling shortens what the decoder attends to: less cross-attention than blockwise at every length.
  for (int64_t length : {64, 128}) {
    const auto* deep = result.find("deep-pyramidion", length);
    const auto* block = result.find("blockwise", length);
    ASSERT_TRUE(deep && block);
    EXPECT_EQ(deep->summary.decoder_memory_length, 16);
    EXPECT_EQ(block->summary.decoder_memory_length, length);
    EXPECT_LT(deep->summary.decoder_cross.flops, block->summary.decoder_cross.flops);
    EXPECT_LT(deep->summary.encoder_self.flops, block->summary.encoder_self.flops);
  }

  const std::string svg = result.to_svg();
  EXPECT_TRUE(testing::well_formed_xml(svg));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_EQ(testing::count_of(svg, "<g class=\"panel\""), 4u);  // training / inference time and memory
  EXPECT_EQ(testing::count_of(svg, "<polyline"), 4u * archs.size());
  EXPECT_EQ(testing::count_of(svg, "<polyline data-series=\"blockwise\""), 4u);
  EXPECT_EQ(testing::count_of(svg, "<polyline data-series=\"deep-pyramidion\""), 4u);

  const std::string table = result.to_table();
  EXPECT_NE(table.find("ms/step"), std::string::npos);
  EXPECT_NE(table.find("1.00x"), std::string::npos);
}

TEST_F(ArchitectureBenchmarkTest, TooSlowSkipsLongerLengthsAndMemoryGuardSkips) {
  auto o = toy_options();
  o.inference = false;
  o.max_seconds = 1e-9;  // every run is too slow
  auto result = run_architecture_benchmark(toy_architectures(), o);
  const auto* first = result.find("blockwise", 64);
  const auto* second = result.find("blockwise", 128);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->training.status, MeasurementStatus::too_slow);
  EXPECT_EQ(first->training.seconds.size(), 1u);
  EXPECT_EQ(second->training.status, MeasurementStatus::skipped_too_slow);
  EXPECT_EQ(first->inference.status, MeasurementStatus::not_run);
  EXPECT_TRUE(std::isnan(result.ratio("blockwise", 64, "training_time")));
  EXPECT_TRUE(result.to_json()["points"][0]["ratios"]["training_time"].is_null());

  o.max_seconds = 0;
  o.max_memory_bytes = 1;  // every estimate exceeds one byte
  result = run_architecture_benchmark(toy_architectures(), o);
  const auto& skipped = result.find("deep-pyramidion", 64)->training;
  EXPECT_EQ(skipped.status, MeasurementStatus::skipped_memory);
  EXPECT_EQ(skipped.note.rfind("skipped (estimated ", 0), 0u) << skipped.note;
  EXPECT_TRUE(testing::well_formed_xml(result.to_svg()));  // no data: panels say so
}

TEST_F(ArchitectureBenchmarkTest, RejectsBadOptions) {
  auto o = toy_options();
  o.lengths.clear();
  EXPECT_THROW(run_architecture_benchmark(toy_architectures(), o), std::invalid_argument);
  o = toy_options();
  o.warmup = 0;
  EXPECT_THROW(run_architecture_benchmark(toy_architectures(), o), std::invalid_argument);
  auto twice = toy_architectures();
  twice[0].name = "blockwise";
  EXPECT_THROW(run_architecture_benchmark(twice, toy_options()), std::invalid_argument);
}

TEST_F(ArchitectureBenchmarkTest, EstimatesGrowWithLength) {
  const auto c = toy(32, {});
  EXPECT_LT(estimate_training_bytes(c, 64, 1, 8, 4), estimate_training_bytes(c, 128, 1, 8, 4));
  EXPECT_LT(estimate_training_bytes(c, 64, 1, 8, 2), estimate_training_bytes(c, 64, 1, 8, 4));
  EXPECT_LT(estimate_inference_bytes(c, 64, 1, 2, 4, 4), estimate_inference_bytes(c, 128, 1, 2, 4, 4));
  ModelConfig full = c;
  full.chunk_size = 0;  // quadratic attention needs more than blocks
  EXPECT_LT(estimate_training_bytes(c, 1024, 1, 8, 4), estimate_training_bytes(full, 1024, 1, 8, 4));
}

}  // namespace
}  // namespace pyramidion

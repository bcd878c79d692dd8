// int8 models (SummarizationModelImpl::quantize_int8, `pyramidion quantize`): an int8 model file loads without
// re-quantizing and computes bit for bit what the float file quantized at load computes; its weights are >= 3x
// smaller; float files are still written as format version 2 (older readers keep reading them) and int8 files as
// version 3 (older readers refuse them in one line); mismatched files and compute types are errors.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../data/temp_dir.h"
#include "model_test_support.h"
#include "pyramidion/models/compute_type.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/models/model_quantization.h"
#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

// Wide enough that matrices dominate the weights (biases and norms stay float32), as in real models.
ModelConfig quantizable_config(bool tied) {
  ModelConfig c = testing::tiny_config();
  c.vocab_size = 300;
  c.d_model = 64;
  c.attention_heads = 4;
  c.ffn_dim = 256;
  c.tie_output_projection = tied;
  return c;
}

SummarizationModel float32_model(const ModelConfig& config) {
  torch::manual_seed(21);
  SummarizationModel model(config);
  model->eval();
  return model;
}

uint32_t file_version(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[12];
  in.read(header, sizeof(header));
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version |= static_cast<uint32_t>(static_cast<unsigned char>(header[8 + i])) << (8 * i);
  return version;
}

int64_t weight_bytes(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& [name, t] : module_tensors(module)) total += static_cast<int64_t>(t.nbytes());
  return total;
}

// Teacher-forced logits (batch, tgt_len, vocab) and a few incremental steps (batch, vocab) each.
std::vector<torch::Tensor> outputs(SummarizationModel& model) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  const auto batch = testing::random_batch({20, 13}, 20, model->config().vocab_size);
  const torch::Tensor target = torch::randint(4, model->config().vocab_size, {2, 6}, torch::kLong);
  std::vector<torch::Tensor> out = {model->forward(batch.tokens, batch.mask, target)};
  auto cache = model->start_decoding(model->encode(batch.tokens, batch.mask));
  for (int64_t t = 0; t < 4; ++t) out.push_back(model->decode_step(target.select(1, t), cache));
  return out;
}

TEST(ModelQuantization, Int8FileEqualsQuantizingAtLoadBitForBit) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied output projection" : "own output projection");
    testing::TempDir dir;
    auto model = float32_model(quantizable_config(tied));
    save_model_file(dir.file("float.pt"), model, "");
    const QuantizationResult result = quantize_model_file(dir.file("float.pt"), dir.file("int8.pt"));
    EXPECT_GE(static_cast<double>(result.weight_bytes_before) / static_cast<double>(result.weight_bytes_after), 3.0);
    EXPECT_LT(result.file_bytes_after * 3, result.file_bytes_before);

    LoadedModel at_load = load_model_file(dir.file("float.pt"));
    EXPECT_FALSE(at_load.int8);
    at_load.model->quantize_int8();
    LoadedModel from_file = load_model_file(dir.file("int8.pt"));
    EXPECT_TRUE(from_file.int8);
    ASSERT_TRUE(from_file.model->is_int8());
    EXPECT_EQ(weight_bytes(*from_file.model), result.weight_bytes_after);
    for (const auto& [name, t] : module_tensors(*from_file.model))
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && t.dim() == 2 &&
          name.find("scorer") == std::string::npos)  // the poolers' scorers (dim -> 1) stay float32
        EXPECT_EQ(t.scalar_type(), torch::kChar) << name;
    const auto a = outputs(at_load.model);
    const auto b = outputs(from_file.model);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "output " << i;
    // And near the float model it came from (loosely: a random model's near-equal pooling scores amplify small
    // differences; tests/decoding/test_int8_generation.cpp bounds a trained model's).
    const auto f = outputs(model);
    EXPECT_LT((a[0] - f[0]).abs().mean().item<double>(), 0.1 * f[0].abs().mean().item<double>());
  }
}

TEST(ModelQuantization, VersionsOldReadersAndMismatches) {
  testing::TempDir dir;
  auto model = float32_model(quantizable_config(true));
  save_model_file(dir.file("float.pt"), model, "");
  quantize_model_file(dir.file("float.pt"), dir.file("int8.pt"));
  // Float files stay version 2, which every earlier reader reads; int8 files are version 3, which a reader of
  // version 2 refuses with "model file format version 3 is not supported (this build reads version 2)".
  EXPECT_EQ(file_version(dir.file("float.pt")), kModelFileVersion);
  EXPECT_EQ(file_version(dir.file("int8.pt")), kModelFileInt8Version);
  EXPECT_EQ(kModelFileVersion, 2u);
  EXPECT_EQ(kModelFileInt8Version, 3u);
  // Quantizing twice is refused, naming the file.
  try {
    quantize_model_file(dir.file("int8.pt"), dir.file("twice.pt"));
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("int8.pt: already an int8 model file"), std::string::npos) << e.what();
  }
  // A version-2 header over int8 weights: the float model refuses int8 tensors instead of converting them.
  ModelFileContents contents = read_model_file_contents(dir.file("int8.pt"));
  contents.int8 = false;
  write_model_file_contents(dir.file("mislabelled.pt"), contents);
  try {
    load_model_file(dir.file("mislabelled.pt"));
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("Char in the file but the model needs Float"), std::string::npos) << message;
  }
  // An unknown future version: one line naming both versions this build reads.
  {
    std::string bytes;
    {
      std::ifstream in(dir.file("float.pt"), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    bytes[8] = 4;
    std::ofstream(dir.file("future.pt"), std::ios::binary) << bytes;
    try {
      read_model_file_contents(dir.file("future.pt"));
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("format version 4 is not supported (this build reads versions 2 and 3)"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(ModelQuantization, ComputeTypes) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(parse_compute_type("int8"), ComputeType::int8_float32);
  EXPECT_EQ(parse_compute_type("int8_float32"), ComputeType::int8_float32);
  EXPECT_EQ(resolve_compute_type(ComputeType::default_type, cpu, false), ComputeType::float32);
  EXPECT_EQ(resolve_compute_type(ComputeType::default_type, cpu, true), ComputeType::int8_float32);
  EXPECT_EQ(resolve_compute_type(ComputeType::automatic, cpu, true), ComputeType::int8_float32);
  const ComputeType automatic = resolve_compute_type(ComputeType::automatic, cpu, false);
  EXPECT_TRUE(automatic == ComputeType::int8_float32 || automatic == ComputeType::float32);
  try {
    parse_compute_type("int4");
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "int4: unknown compute type (float32, int8, int8_float32, bfloat16, auto, default)");
  }
  EXPECT_THROW(resolve_compute_type(ComputeType::int8_float32, torch::Device(torch::kCUDA, 0), false),
               std::invalid_argument);
  EXPECT_THROW(resolve_compute_type(ComputeType::float32, cpu, /*file_is_int8=*/true), std::invalid_argument);
  EXPECT_THROW(resolve_compute_type(ComputeType::float16, cpu, false), std::invalid_argument);
  // Quantizing is inference only and idempotent.
  auto model = float32_model(quantizable_config(true));
  model->quantize_int8();
  const auto once = outputs(model);
  model->quantize_int8();
  const auto twice = outputs(model);
  EXPECT_TRUE(torch::equal(once[0], twice[0]));
}

}  // namespace
}  // namespace pyramidion

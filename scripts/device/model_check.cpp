// GPU check of the model against a pip PyTorch 2.x LibTorch (CUDA): the fused attention path agrees with the math
// path, padding invariance and incremental decoding hold on CUDA, bf16 autocast trains, and a timing of the
// full-size presets. Build and run with scripts/device/run_model_check.sh on a machine with a GPU.
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>

#include "pyramidion/models/summarization_model.h"

using namespace pyramidion;

static int failures = 0;
static void check(bool ok, const char* what, double value) {
  std::printf("%-58s %s (%.3g)\n", what, ok ? "ok" : "FAIL", value);
  if (!ok) ++failures;
}
static double diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}
static void copy_params(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard g;
  auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(*src.find(p.key()));
}

static ModelConfig tiny() {
  ModelConfig c;
  c.vocab_size = 64; c.d_model = 32; c.attention_heads = 4; c.ffn_dim = 64;
  c.encoder_layers = 3; c.decoder_layers = 2; c.chunk_size = 8; c.pooling = {{0, 16}, {2, 5}};
  c.max_source_positions = 128; c.max_target_positions = 32;
  return c;
}

int main() {
  std::printf("LibTorch %s, CUDA available: %d\n", TORCH_VERSION, (int)torch::cuda::is_available());
  const torch::Device cuda(torch::kCUDA);
  auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  // 1. Attention function: fused vs math, CPU float64 and CUDA float64/float32.
  for (auto device : {torch::Device(torch::kCPU), cuda}) {
    auto q = torch::randn({3, 2, 9, 8}, f64.device(device)), k = torch::randn_like(q), v = torch::randn_like(q);
    auto mask = torch::rand({3, 9}, f64.device(device)) > 0.4;
    mask[1].fill_(false);
    double worst = 0;
    for (bool causal : {false, true})
      for (const torch::Tensor& m : {mask, torch::Tensor()})
        worst = std::max(worst, diff(scaled_dot_product(q, k, v, m, causal, 0, AttentionBackend::automatic),
                                     scaled_dot_product(q, k, v, m, causal, 0, AttentionBackend::math)));
    check(worst < 1e-10, device.is_cuda() ? "sdpa == math, CUDA float64" : "sdpa == math, CPU float64", worst);
  }
  // 2. Model on CUDA float64: backends agree, padding invariance, incremental decoding.
  torch::manual_seed(1);
  auto config = tiny();
  SummarizationModel fused(config);
  config.attention_backend = AttentionBackend::math;
  SummarizationModel math(config);
  copy_params(*fused, *math);
  for (auto* m : {&fused, &math}) { (*m)->to(cuda, torch::kDouble); (*m)->eval(); }
  std::vector<int64_t> lengths = {100, 17, 16, 9, 40, 3};
  auto mask = (torch::arange(110).unsqueeze(0) < torch::tensor(lengths).unsqueeze(1)).to(cuda);
  auto src = torch::randint(4, 64, {6, 110}, torch::kLong).to(cuda).masked_fill(mask.logical_not(), 0);
  auto tgt = torch::randint(4, 64, {6, 12}, torch::kLong).to(cuda);
  check(diff(fused->forward(src, mask, tgt), math->forward(src, mask, tgt)) < 1e-9, "model: sdpa == math, CUDA f64",
        diff(fused->forward(src, mask, tgt), math->forward(src, mask, tgt)));
  auto memory = fused->encode(src, mask);
  double worst = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    auto alone = fused->encode(src[i].narrow(0, 0, lengths[i]).unsqueeze(0), mask[i].narrow(0, 0, lengths[i]).unsqueeze(0));
    worst = std::max(worst, diff(memory.states[i].narrow(0, 0, alone.memory_length()), alone.states[0]));
  }
  check(worst < 1e-10, "padding invariance, CUDA f64", worst);
  auto rows = torch::arange(6, torch::TensorOptions().device(cuda)).repeat_interleave(2);
  auto beams = memory.index_select(rows);
  auto cache = fused->start_decoding(memory);
  cache.reorder(rows);
  auto history = tgt.index_select(0, rows.to(torch::kLong));
  worst = 0;
  for (int64_t t = 0; t < 12; ++t) {
    auto step = fused->decode_step(history.select(1, t), cache);
    worst = std::max(worst, diff(step, fused->decode(history.narrow(1, 0, t + 1), beams).select(1, t)));
  }
  check(worst < 1e-9, "incremental == teacher forcing, CUDA f64", worst);
  // 3. bf16 autocast training step.
  {
    torch::manual_seed(2);
    SummarizationModel model(tiny());
    model->to(cuda);
    model->train();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#endif
    auto logits = model->forward(src, mask, tgt);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
#endif
    std::printf("autocast logits dtype: %s\n", c10::toString(logits.scalar_type()));
    auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat).reshape({-1, 64}), tgt.reshape({-1}));
    loss.backward();
    bool all = true;
    for (const auto& p : model->named_parameters())
      all = all && p.value().grad().defined() && p.value().grad().isfinite().all().item<bool>() &&
            p.value().grad().abs().sum().item<double>() > 0;
    check(std::isfinite(loss.item<double>()) && all, "bf16 autocast: finite loss, every grad nonzero", loss.item<double>());
  }
  // 4. Full-size timing: blockwise vs deep-pyramidion, 6+6, d 512, 8192 tokens, batch 4, bf16 autocast fwd+bwd.
  for (const char* name : {"blockwise", "transpooler", "deep-pyramidion", "vanilla"}) {
    ModelConfig c;
    c.max_source_positions = 8192;
    std::string n = name;
    if (n != "vanilla") c.chunk_size = 512;
    if (n == "transpooler") c.pooling = {{5, 512}};
    if (n == "deep-pyramidion") c.pooling = {{0, 4096}, {1, 2048}, {2, 1024}, {3, 512}};
    torch::manual_seed(3);
    SummarizationModel model(c);
    model->to(cuda);
    model->train();
    auto m = torch::ones({4, 8192}, torch::TensorOptions().dtype(torch::kBool).device(cuda));
    auto s = torch::randint(4, 32000, {4, 8192}, torch::kLong).to(cuda);
    auto t = torch::randint(4, 32000, {4, 256}, torch::kLong).to(cuda);
    double ms = 0;
    for (int it = 0; it < 4; ++it) {
      torch::cuda::synchronize();
      auto start = std::chrono::steady_clock::now();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
      at::autocast::set_autocast_enabled(at::kCUDA, true);
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#endif
      auto logits = model->forward(s, m, t);
      auto loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat).reshape({-1, 32000}), t.reshape({-1}));
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
#endif
      loss.backward();
      model->zero_grad();
      torch::cuda::synchronize();
      if (it > 0) ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / 3;
    }
    std::printf("timing %-16s batch 4 x 8192 -> 256, bf16 fwd+bwd: %8.1f ms/step\n", name, ms);
  }
  std::printf("%s\n", failures ? "DEVICE CHECK FAILED" : "DEVICE CHECK PASSED");
  return failures ? 1 : 0;
}

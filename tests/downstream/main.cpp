// Uses the installed pyramidion: pools 8 vectors to 2 and checks the shapes and the gradient.
#include <pyramidion/ops/successive_halving_topk.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  auto e = torch::randn({1, 8, 4}).requires_grad_(true);
  auto s = torch::rand({1, 8});
  auto out = pyramidion::successive_halving_topk(e, s, 2);
  out.embeddings.sum().backward();
  const bool ok = out.embeddings.sizes() == torch::IntArrayRef({1, 2, 4}) && e.grad().defined();
  std::cout << (ok ? "downstream ok" : "downstream FAILED") << std::endl;
  return ok ? 0 : 1;
}

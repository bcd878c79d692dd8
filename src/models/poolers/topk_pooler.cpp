// The `topk` pooler type: a scorer and the successive-halving top-k (RepresentationPooler).
#include "pyramidion/models/pooler_factory.h"
#include "pyramidion/nn/representation_pooler.h"

namespace pyramidion {
namespace {

const bool registered = register_pooler_type("topk", [](const PoolingConfig& config, int64_t dim, int64_t width) {
  RepresentationPoolerOptions options;
  options.dim = dim;
  options.width = width;
  options.topk.base = config.base;
  options.topk.flip_right = config.flip_right;
  options.topk.sort_back = config.sort_back;
  options.topk.hard = false;
  options.hard_at_inference = config.hard_at_inference;
  return std::static_pointer_cast<PoolerImpl>(std::make_shared<RepresentationPoolerImpl>(options));
});

}  // namespace
}  // namespace pyramidion

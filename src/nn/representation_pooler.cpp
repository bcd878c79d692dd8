#include "pyramidion/nn/representation_pooler.h"

#include <torch/torch.h>

#include <map>
#include <stdexcept>
#include <vector>

namespace pyramidion {

PooledSequence pool_documents(const torch::Tensor& embeddings, const torch::Tensor& scores, const torch::Tensor& mask,
                              int64_t width, const TopKOptions& options) {
  if (width < 1) throw std::invalid_argument("pool_documents: width must be >= 1");
  const int64_t batch = embeddings.size(0), n = embeddings.size(1), dim = embeddings.size(2);
  if (n <= width) return {embeddings, scores, mask};
  const int64_t out_len = width;

  // Group documents by their own round count (0 = passes through).
  torch::Tensor lengths = mask.sum(1).to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* length = lengths.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < batch; ++i) groups[successive_halving_rounds(length[i], width)].push_back(i);

  std::vector<torch::Tensor> states, pooled_scores, masks, order;
  for (const auto& [rounds, members] : groups) {
    torch::Tensor rows = torch::tensor(members, torch::kLong).to(embeddings.device());
    torch::Tensor e = embeddings.index_select(0, rows);  // (group, n, dim)
    torch::Tensor s = scores.index_select(0, rows);      // (group, n)
    torch::Tensor m = mask.index_select(0, rows);        // (group, n)
    const int64_t group = rows.size(0);
    if (rounds == 0) {
      states.push_back(e.narrow(1, 0, out_len));
      pooled_scores.push_back(s.narrow(1, 0, out_len));
      masks.push_back(m.narrow(1, 0, out_len));
    } else {
      const int64_t padded = width << rounds;  // only padding lies beyond it, or is added up to it
      if (n >= padded) {
        e = e.narrow(1, 0, padded);
        s = s.narrow(1, 0, padded);
        m = m.narrow(1, 0, padded);
      } else {
        e = torch::cat({e, torch::zeros({group, padded - n, dim}, e.options())}, 1);
        s = torch::cat({s, torch::full({group, padded - n}, kTopKPaddingScore, s.options())}, 1);
        m = torch::cat({m, torch::zeros({group, padded - n}, m.options())}, 1);
      }
      TopKResult top = successive_halving_topk(e, s, width, options, m);
      states.push_back(top.embeddings);
      pooled_scores.push_back(top.scores);
      masks.push_back(torch::ones({group, out_len}, m.options()));
    }
    order.push_back(rows);
  }
  if (groups.size() == 1) return {states[0], pooled_scores[0], masks[0]};
  torch::Tensor inverse = torch::argsort(torch::cat(order));  // row in the concatenation for each document
  return {torch::cat(states).index_select(0, inverse), torch::cat(pooled_scores).index_select(0, inverse),
          torch::cat(masks).index_select(0, inverse)};
}

torch::Tensor pooling_provenance(const PoolingRecord& record) {
  torch::NoGradGuard no_grad;
  const int64_t batch = record.scores.size(0), n = record.scores.size(1);
  auto options = record.scores.options();
  torch::Tensor identity = torch::eye(n, options).unsqueeze(0).expand({batch, n, n}).contiguous();
  PooledSequence pooled = pool_documents(identity, record.scores.detach(), record.mask, record.width, record.options);
  return pooled.states.masked_fill(pooled.mask.logical_not().unsqueeze(-1), 0);
}

RepresentationPoolerImpl::RepresentationPoolerImpl(const RepresentationPoolerOptions& options) : options_(options) {
  if (options.width < 1) throw std::invalid_argument("RepresentationPooler: width must be >= 1");
  scorer_ = register_module("scorer", torch::nn::Linear(options.dim, 1));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(scorer_->weight);
  torch::nn::init::zeros_(scorer_->bias);
}

torch::Tensor RepresentationPoolerImpl::score(const torch::Tensor& states) {
  torch::Tensor logits = scorer_(states).squeeze(-1);  // (batch, n)
  // Scores live in float32 at least: 1e-5 and base^score differences vanish in bf16.
  const auto dtype = logits.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  return torch::sigmoid(logits.to(dtype)) + options_.score_epsilon;
}

PoolerOutput RepresentationPoolerImpl::forward(const torch::Tensor& states, const torch::Tensor& mask, int64_t layer) {
  PoolerOutput out;
  out.record.layer = layer;
  out.record.width = options_.width;
  out.record.options = options_.topk;
  if (options_.hard_at_inference && !is_training()) out.record.options.hard = true;
  out.record.scores = score(states);
  out.record.mask = mask;
  out.pooled = pool_documents(states, out.record.scores, mask, options_.width, out.record.options);
  return out;
}

}  // namespace pyramidion

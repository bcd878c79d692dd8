#include "pyramidion/nn/pooling_trace.h"

#include <torch/torch.h>

#include <stdexcept>

#include "pyramidion/ops/successive_halving_trace.h"

namespace pyramidion {
namespace {

// Local trace of one document's record: pool_documents on a document of real length L runs the operator on the
// first L inputs (padded by the operator itself), or passes the document through when L <= width.
PoolingLayerTrace trace_layer(const PoolingRecord& record, int64_t row) {
  if (!record.scores.defined() || record.scores.dim() != 2 || !record.mask.defined())
    throw std::invalid_argument("trace_pooling: a pooling record without (batch, n) scores and mask");
  if (row < 0 || row >= record.scores.size(0))
    throw std::invalid_argument("trace_pooling: row " + std::to_string(row) + " outside the batch of " +
                                std::to_string(record.scores.size(0)));
  PoolingLayerTrace t;
  t.layer = record.layer;
  t.width = record.width;
  t.hard = record.options.hard;
  const torch::Tensor mask = record.mask.narrow(0, row, 1).to(torch::kCPU, torch::kBool);  // (1, n)
  t.input_length = mask.sum().item<int64_t>();
  t.output_length = std::min(record.width, t.input_length);
  torch::Tensor scores = record.scores.narrow(0, row, 1).narrow(1, 0, t.input_length).detach().to(torch::kCPU);
  if (t.input_length <= record.width) {
    t.index = torch::arange(t.input_length, torch::kLong).unsqueeze(1);
    t.weight = torch::ones({t.input_length, 1}, torch::kDouble);
    return t;
  }
  TopKTrace trace = successive_halving_topk_trace(scores, record.width, record.options);
  t.index = trace.index[0].contiguous();
  t.weight = trace.weight[0].to(torch::kDouble).contiguous();
  return t;
}

// Scatters rows of (index, weight) into (rows, length) dense weights; index -1 is dropped.
torch::Tensor densify(const torch::Tensor& index, const torch::Tensor& weight, int64_t length) {
  torch::Tensor dense = torch::zeros({index.size(0), length + 1}, torch::kDouble);  // last column: padding
  torch::Tensor column = index.masked_fill(index.lt(0), length);
  dense.scatter_add_(1, column, weight);
  return dense.narrow(1, 0, length).contiguous();
}

}  // namespace

PoolingTrace trace_pooling(const std::vector<PoolingRecord>& records, int64_t row) {
  torch::NoGradGuard no_grad;
  PoolingTrace trace;
  for (const auto& record : records) {
    PoolingLayerTrace t = trace_layer(record, row);
    if (trace.layers.empty()) {
      trace.source_length = t.input_length;
      t.source_index = t.index;
      t.source_weight = t.weight;
    } else {
      const PoolingLayerTrace& previous = trace.layers.back();
      if (t.input_length != previous.output_length)
        throw std::invalid_argument("trace_pooling: pooling layer " + std::to_string(t.layer) + " read " +
                                    std::to_string(t.input_length) + " states but the previous one kept " +
                                    std::to_string(previous.output_length));
      // Entry e of slot j points at input slot i = index[j, e], itself a list over source positions: the
      // composed list is the concatenation, each scaled by weight[j, e]. A padding entry keeps its weight on one
      // padding position (then zeros), so rows still sum to 1.
      const int64_t span = previous.source_index.size(1);
      torch::Tensor padding = t.index.lt(0).unsqueeze(-1);  // (out, local_span, 1)
      torch::Tensor at = t.index.clamp_min(0);              // (out, local_span)
      torch::Tensor index =
          previous.source_index.index_select(0, at.reshape({-1})).view({at.size(0), at.size(1), span});
      torch::Tensor weight =
          previous.source_weight.index_select(0, at.reshape({-1})).view({at.size(0), at.size(1), span});
      torch::Tensor first = torch::zeros({1, 1, span}, torch::kDouble);
      first[0][0][0] = 1.0;
      index = index.masked_fill(padding, -1);
      weight = torch::where(padding, first, weight) * t.weight.unsqueeze(-1);
      t.source_index = index.reshape({t.output_length, -1}).contiguous();
      t.source_weight = weight.reshape({t.output_length, -1}).contiguous();
    }
    trace.layers.push_back(std::move(t));
  }
  return trace;
}

torch::Tensor PoolingTrace::token_shares(size_t l) const {
  const PoolingLayerTrace& t = layers.at(l);
  torch::Tensor column = t.source_index.masked_fill(t.source_index.lt(0), source_length).reshape({-1});
  torch::Tensor shares = torch::zeros({source_length + 1}, torch::kDouble);
  shares.scatter_add_(0, column, t.source_weight.reshape({-1}));
  return shares.narrow(0, 0, source_length).div(static_cast<double>(std::max<int64_t>(1, t.output_length)));
}

double PoolingTrace::padding_share(size_t l) const {
  const PoolingLayerTrace& t = layers.at(l);
  if (t.output_length == 0) return 0.0;
  return t.source_weight.masked_select(t.source_index.lt(0)).sum().item<double>() /
         static_cast<double>(t.output_length);
}

torch::Tensor PoolingTrace::dense(size_t l) const {
  const PoolingLayerTrace& t = layers.at(l);
  return densify(t.source_index, t.source_weight, source_length);
}

torch::Tensor PoolingTrace::dense_local(size_t l) const {
  const PoolingLayerTrace& t = layers.at(l);
  return densify(t.index, t.weight, t.input_length);
}

}  // namespace pyramidion

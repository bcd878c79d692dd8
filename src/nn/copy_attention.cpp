#include "pyramidion/nn/copy_attention.h"

#include <torch/torch.h>

#include <map>
#include <stdexcept>

#include "pyramidion/ops/successive_halving_trace.h"

namespace pyramidion {
namespace {

torch::ScalarType wide_type(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
}

// Slot j = input j for the first `length` inputs of each row (the pass-through of pool_documents).
SlotProvenance identity(const torch::Tensor& mask, const torch::ScalarType dtype) {
  const int64_t batch = mask.size(0), n = mask.size(1);
  torch::Tensor index = torch::arange(n, mask.options().dtype(torch::kLong)).unsqueeze(0).expand({batch, n});
  return {index.masked_fill(mask.logical_not(), -1).unsqueeze(-1), mask.to(dtype).unsqueeze(-1)};
}

// Pads (rows, slots, span) lists to `span` entries with index -1 / weight 0.
SlotProvenance pad_span(SlotProvenance p, int64_t span) {
  const int64_t extra = span - p.index.size(2);
  if (extra <= 0) return p;
  const int64_t rows = p.index.size(0), slots = p.index.size(1);
  p.index = torch::cat({p.index, torch::full({rows, slots, extra}, -1, p.index.options())}, 2);
  p.weight = torch::cat({p.weight, torch::zeros({rows, slots, extra}, p.weight.options())}, 2);
  return p;
}

// One pooling layer's own mixing: (batch, out_len, local_span) indices into its inputs, weights with autograd.
SlotProvenance local_mixing(const PoolingRecord& record) {
  const torch::Tensor& scores = record.scores;  // (batch, n)
  const torch::Tensor mask = record.mask.to(torch::kBool);
  const int64_t batch = scores.size(0), n = scores.size(1), width = record.width;
  const auto dtype = wide_type(scores);
  if (n <= width) return identity(mask, dtype);
  torch::Tensor lengths = mask.sum(1).to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* length = lengths.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> groups;  // round count -> documents, as pool_documents groups them
  for (int64_t i = 0; i < batch; ++i) groups[successive_halving_rounds(length[i], width)].push_back(i);
  std::vector<SlotProvenance> parts;
  std::vector<torch::Tensor> order;
  int64_t span = 1;
  for (const auto& [rounds, members] : groups) {
    torch::Tensor rows = torch::tensor(members, torch::kLong).to(scores.device());
    torch::Tensor s = scores.index_select(0, rows).to(dtype);  // (group, n)
    torch::Tensor m = mask.index_select(0, rows);              // (group, n)
    if (rounds == 0) {
      parts.push_back(identity(m.narrow(1, 0, width), dtype));
    } else {
      const int64_t padded = width << rounds;
      if (n >= padded) {
        s = s.narrow(1, 0, padded);
        m = m.narrow(1, 0, padded);
      } else {
        const int64_t group = rows.size(0);
        s = torch::cat({s, torch::full({group, padded - n}, kTopKPaddingScore, s.options())}, 1);
        m = torch::cat({m, torch::zeros({group, padded - n}, m.options())}, 1);
      }
      TopKTrace trace = successive_halving_topk_mixing(s, width, record.options, m);
      // Entries of the operator's zero padding (index -1) keep no weight: they carry no token.
      const torch::Tensor real = trace.index.ge(0);
      parts.push_back({trace.index, trace.weight.to(dtype) * real.to(dtype)});
    }
    span = std::max(span, parts.back().index.size(2));
    order.push_back(rows);
  }
  for (auto& part : parts) part = pad_span(std::move(part), span);
  if (parts.size() == 1) return parts[0];
  std::vector<torch::Tensor> index, weight;
  for (const auto& part : parts) {
    index.push_back(part.index);
    weight.push_back(part.weight);
  }
  torch::Tensor inverse = torch::argsort(torch::cat(order));
  return {torch::cat(index).index_select(0, inverse), torch::cat(weight).index_select(0, inverse)};
}

}  // namespace

CopySources CopySources::index_select(const torch::Tensor& rows) const {
  if (!defined()) return *this;
  const torch::Tensor r = rows.to(ids.device(), torch::kLong);
  return {ids.index_select(0, r), weights.index_select(0, r)};
}

SlotProvenance source_provenance(const torch::Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2) throw std::invalid_argument("source_provenance: mask must be (batch, n)");
  return identity(mask.to(torch::kBool), torch::kFloat);
}

SlotProvenance pool_provenance(const SlotProvenance& input, const PoolingRecord& record) {
  if (!record.scores.defined() || record.scores.dim() != 2 || !record.mask.defined())
    throw std::invalid_argument("pool_provenance: a pooling record without (batch, n) scores and mask");
  if (input.index.size(0) != record.scores.size(0) || input.index.size(1) != record.scores.size(1))
    throw std::invalid_argument("pool_provenance: the provenance has " + std::to_string(input.index.size(1)) +
                                " slots but the pooler read " + std::to_string(record.scores.size(1)));
  const SlotProvenance local = local_mixing(record);  // (batch, out, local_span) into the inputs
  const int64_t batch = local.index.size(0), out = local.index.size(1), local_span = local.index.size(2);
  const int64_t span = input.index.size(2);
  // Entry e of slot j stands for input slot i = index[j, e], itself a list over source positions: the composed
  // list is the concatenation, each part scaled by weight[j, e].
  const torch::Tensor valid = local.index.ge(0);  // (batch, out, ls)
  const torch::Tensor at = local.index.clamp_min(0).reshape({batch, out * local_span, 1}).expand({-1, -1, span});
  torch::Tensor index = input.index.gather(1, at).view({batch, out, local_span, span});
  torch::Tensor weight = input.weight.to(local.weight.scalar_type()).gather(1, at).view({batch, out, local_span, span});
  index = index.masked_fill(valid.logical_not().unsqueeze(-1), -1);
  weight = weight * (local.weight * valid.to(local.weight.scalar_type())).unsqueeze(-1);
  return {index.reshape({batch, out, local_span * span}), weight.reshape({batch, out, local_span * span})};
}

CopySources copy_sources(const SlotProvenance& provenance, const torch::Tensor& source, int64_t pad_id) {
  const int64_t batch = provenance.index.size(0), slots = provenance.index.size(1), span = provenance.index.size(2);
  const torch::Tensor empty = provenance.index.lt(0);
  torch::Tensor ids = source.gather(1, provenance.index.clamp_min(0).reshape({batch, slots * span}))
                          .view({batch, slots, span})
                          .masked_fill(empty, pad_id);
  torch::Tensor weight = provenance.weight.masked_fill(empty, 0);
  // A slot of real tokens sums to 1; a padding slot (no real entry) stays zero.
  const torch::Tensor total = weight.sum(-1, /*keepdim=*/true);
  weight = weight / torch::where(total > 0, total, torch::ones_like(total));
  return {ids, weight};
}

torch::Tensor provenance_entropy(const CopySources& sources) {
  if (!sources.defined()) throw std::invalid_argument("provenance_entropy: no copy sources (copy_attention is off)");
  const torch::Tensor& w = sources.weights;  // (batch, slots, span)
  // 0 * log 0 = 0: empty entries contribute nothing and get a zero (not NaN) gradient.
  const torch::Tensor positive = w.gt(0);
  const torch::Tensor per_slot = -(w * torch::where(positive, w, torch::ones_like(w)).log()).sum(-1);  // (batch, slots)
  const torch::Tensor real = w.sum(-1).gt(0).to(w.scalar_type());  // padding slots have no weight
  return (per_slot * real).sum() / real.sum().clamp_min(1);
}

torch::Tensor copy_distribution(const torch::Tensor& attention, const CopySources& sources, int64_t vocab_size) {
  if (attention.dim() != 3 || !sources.defined() || attention.size(0) != sources.ids.size(0) ||
      attention.size(2) != sources.ids.size(1))
    throw std::invalid_argument(
        "copy_distribution: attention must be (batch, queries, memory_len) over the sources' slots");
  const int64_t batch = attention.size(0), queries = attention.size(1);
  const int64_t entries = sources.ids.size(1) * sources.ids.size(2);
  const auto dtype = attention.scalar_type() == torch::kDouble || sources.weights.scalar_type() == torch::kDouble
                         ? torch::kDouble
                         : torch::kFloat;
  // (batch, queries, memory_len * span): each entry's share of the query's attention.
  torch::Tensor share =
      (attention.to(dtype).unsqueeze(-1) * sources.weights.to(dtype).unsqueeze(1)).view({batch, queries, entries});
  torch::Tensor ids = sources.ids.reshape({batch, 1, entries}).expand({batch, queries, entries});
  return torch::zeros({batch, queries, vocab_size}, share.options()).scatter_add(2, ids, share);
}

torch::Tensor pointer_generator_log_probs(const torch::Tensor& logits, const torch::Tensor& p_gen,
                                          const torch::Tensor& attention, const CopySources& sources) {
  const auto dtype = wide_type(logits);
  torch::Tensor gate = p_gen.to(dtype);  // (batch, queries, 1)
  torch::Tensor generated = torch::softmax(logits.to(dtype), -1);
  torch::Tensor copied = copy_distribution(attention, sources, logits.size(-1)).to(dtype);
  return (gate * generated + (1 - gate) * copied).clamp(1e-10, 1.0).log();
}

}  // namespace pyramidion

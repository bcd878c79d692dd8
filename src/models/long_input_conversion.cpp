#include "pyramidion/models/long_input_conversion.h"

#include <torch/torch.h>

#include <stdexcept>

#include "pyramidion/util/tensor_archive.h"

namespace pyramidion {

SummarizationModel convert_to_long_input(SummarizationModelImpl& model, const LongInputOptions& options) {
  if (model.is_int8())
    throw std::invalid_argument("long-input conversion: the model is int8 (convert the float model)");
  ModelConfig config = model.config();
  const int64_t old_positions = config.max_source_positions;
  if (options.max_source_positions != 0) {
    if (options.max_source_positions < old_positions)
      throw std::invalid_argument("--max-source-positions " + std::to_string(options.max_source_positions) +
                                  " is shorter than the model's " + std::to_string(old_positions));
    config.max_source_positions = options.max_source_positions;
  }
  if (options.chunk_size >= 0) config.chunk_size = options.chunk_size;
  if (!options.pooling.empty()) config.pooling.schedule = options.pooling;
  config.validate();  // std::invalid_argument "model.<key>: ..."

  torch::manual_seed(0);
  SummarizationModel converted(config);
  NamedTensors tensors = module_tensors(model);
  torch::NoGradGuard no_grad;
  auto parameters = converted->named_parameters();
  for (auto& [name, value] : tensors) {
    torch::Tensor* target = parameters.find(name);
    if (!target) continue;  // a pooler the new schedule dropped
    if (name == "encoder_positions.weight" && target->size(0) != value.size(0)) {
      // LED: rows [0, offset) as they are, then the trained positions repeated until the table is full.
      const int64_t offset = kLearnedPositionOffset, trained = value.size(0) - offset;
      target->narrow(0, 0, offset).copy_(value.narrow(0, 0, offset));
      for (int64_t row = offset; row < target->size(0); row += trained) {
        const int64_t n = std::min(trained, target->size(0) - row);
        target->narrow(0, row, n).copy_(value.narrow(0, offset, n));
      }
      continue;
    }
    target->copy_(value);
  }
  // New poolers (those the source model lacked): near-equal high scores.
  for (auto& item : parameters) {
    const std::string& name = item.key();
    if (name.rfind("pooler_after_layer_", 0) != 0 || model.named_parameters().find(name)) continue;
    if (item.value().dim() == 2)
      item.value().normal_(0.0, options.scorer_std);
    else
      item.value().fill_(options.scorer_bias);
  }
  converted->eval();
  return converted;
}

}  // namespace pyramidion

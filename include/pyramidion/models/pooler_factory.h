#pragma once
// Pooler types by name: each type registers a factory from its own .cpp file (static registration, see
// src/models/poolers/topk_pooler.cpp), so a new type is one new file. The model builds its poolers with make_pooler.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pyramidion/models/model_config.h"
#include "pyramidion/nn/pooler.h"

namespace pyramidion {

// (pooling config, model dim, width kept) -> a pooler module.
using PoolerFactory =
    std::function<std::shared_ptr<PoolerImpl>(const PoolingConfig& config, int64_t dim, int64_t width)>;

// Registers `type`; returns true (for `static const bool registered = register_pooler_type(...)`). A second
// registration of the same name throws std::logic_error.
bool register_pooler_type(const std::string& type, PoolerFactory factory);

std::vector<std::string> pooler_types();  // sorted registered names
bool is_pooler_type(const std::string& type);
std::string unknown_pooler_type_message(const std::string& type);  // "unknown pooler type 'x' (known: topk)"

// Throws std::invalid_argument "model.pooling.type: unknown pooler type 'x' (known: topk)" for an unknown type.
std::shared_ptr<PoolerImpl> make_pooler(const PoolingConfig& config, int64_t dim, int64_t width);

}  // namespace pyramidion

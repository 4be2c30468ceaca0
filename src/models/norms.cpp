#include "xfer/models/norms.h"

#include "models/detail/layers.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/normalization.h>

namespace xfer::models {

bool is_batch_norm(const torch::nn::Module& module) {
  return dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module) != nullptr;
}

bool is_layer_norm(const torch::nn::Module& module) {
  return dynamic_cast<const detail::LayerNormImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::LayerNormImpl*>(&module) != nullptr;
}

}  // namespace xfer::models

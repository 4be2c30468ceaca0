#pragma once
// Which modules of the zoo normalise, for the training policies that treat them apart
// (train::BatchNormPolicy, train::LayerNormPolicy).

#include <torch/nn/module.h>

namespace xfer::models {

/// Whether `module` is a batch norm (torch::nn::BatchNorm1d or BatchNorm2d).
bool is_batch_norm(const torch::nn::Module& module);

/// Whether `module` is a layer norm: the zoo's (ViT, Swin, ConvNeXt, MaxViT) or a
/// torch::nn::LayerNorm.
bool is_layer_norm(const torch::nn::Module& module);

}  // namespace xfer::models

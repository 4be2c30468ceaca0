#pragma once
// The CIFAR-10 ResNets of He et al. 2016 (3 stages of 16/32/64 channels, option-A zero-padding
// shortcuts), with the keys of akamaster/pytorch_resnet_cifar10's resnet.py checkpoints.

#include "xfer/models/registry.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace xfer::models {

/// akamaster's CIFAR ResNet: a 3x3 stem of 16 channels (`conv1`, `bn1`), three stages `layer1`..
/// `layer3` of n basic blocks each (16, 32, 64 channels; stages 2 and 3 halve the resolution),
/// global average pooling and the head `linear`. Each block has `conv1`, `bn1`, `conv2`, `bn2` and
/// a parameter-free `shortcut`: the identity (an empty Sequential) or, where the block halves the
/// resolution, option A (every second pixel, zero-padded to the doubled channel count).
/// Its checkpoints hold the same keys, less the batch-norms' `num_batches_tracked`, which they
/// predate.
class CifarResNetImpl : public ClassifierImpl {
 public:
  /// Builds ResNet-`depth` (6n+2 for n >= 1: 20, 32, 44, 56, 110, ...) with a head of
  /// `num_classes`, initialised as akamaster's `_weights_init` does (Kaiming-normal fan-in for
  /// every convolution and Linear weight; batch-norm 1/0 and Linear bias by default). Throws
  /// InvalidArgument for another depth or num_classes < 1.
  CifarResNetImpl(int64_t depth, int64_t num_classes);

  /// Pooled features [N, 64] float32 of images [N,3,H,W] float32 with H, W >= 4 (the reference's
  /// input is 32x32).
  torch::Tensor features(const torch::Tensor& images) override;

  /// Logits [N, num_classes] of pooled features [N, 64]: the head `linear`.
  torch::Tensor classify(const torch::Tensor& features) override;

 protected:
  /// akamaster's Linear initialisation: Kaiming-normal fan-in weight, default bias.
  void init_head(torch::nn::Module& head) override;

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  torch::nn::Sequential layer2_{nullptr};
  torch::nn::Sequential layer3_{nullptr};
};

/// resnet20, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet20(const ModelOptions& options);

/// resnet32, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet32(const ModelOptions& options);

/// resnet44, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet44(const ModelOptions& options);

/// resnet56, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet56(const ModelOptions& options);

}  // namespace xfer::models

#pragma once
// ResNet-18/34/50/101/152, ResNeXt-50/101 and Wide ResNet-50/101, mirroring torchvision 0.14
// torchvision/models/resnet.py.

#include "xfer/models/registry.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

namespace xfer::models {

/// torchvision's ResNet: a 7x7/2 stem, a 3x3/2 max-pool, four stages of residual blocks (basic
/// blocks for depth 18/34, bottlenecks from 50 on, their 3x3 grouped for ResNeXt and twice as
/// wide for Wide ResNet; each stage but the first halving the resolution),
/// global average pooling and the head `fc`. Children carry torchvision's names (`conv1`, `bn1`,
/// `relu`, `maxpool`, `layer1`..`layer4` of blocks `conv1`, `bn1`, `relu`, `conv2`, `bn2`
/// [, `conv3`, `bn3`], `downsample`, then `avgpool`, `fc`).
class ResNetImpl : public ClassifierImpl {
 public:
  /// Builds torchvision's `name` (resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d,
  /// resnext101_64x4d, wide_resnet50_2, wide_resnet101_2) with a head of `num_classes`,
  /// initialised as torchvision does (Kaiming-normal fan-out convolutions, batch-norm weight 1
  /// and bias 0, default Linear head, zero_init_residual off). Throws InvalidArgument for another
  /// name or num_classes < 1.
  ResNetImpl(const std::string& name, int64_t num_classes);

  /// Pooled features [N, 512] (resnet18/34) or [N, 2048] (the bottleneck ones) float32 of images
  /// [N,3,H,W] float32 with H, W >= 32 (smaller ones reach layer4 with no pixel left).
  torch::Tensor features(const torch::Tensor& images) override;

  /// Logits [N, num_classes] of pooled features [N, feature_dim()]: the head `fc`.
  torch::Tensor classify(const torch::Tensor& features) override;

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  torch::nn::Sequential layer2_{nullptr};
  torch::nn::Sequential layer3_{nullptr};
  torch::nn::Sequential layer4_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

/// resnet18, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet18(const ModelOptions& options);

/// resnet34, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet34(const ModelOptions& options);

/// resnet50, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet50(const ModelOptions& options);

/// resnet101, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet101(const ModelOptions& options);

/// resnet152, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet152(const ModelOptions& options);

/// resnext50_32x4d, default-initialised as the reference does; see registry.cpp for its input and
/// head.
Classifier resnext50_32x4d(const ModelOptions& options);

/// resnext101_32x8d, default-initialised as the reference does; see registry.cpp for its input and
/// head.
Classifier resnext101_32x8d(const ModelOptions& options);

/// resnext101_64x4d, default-initialised as the reference does; see registry.cpp for its input and
/// head.
Classifier resnext101_64x4d(const ModelOptions& options);

/// wide_resnet50_2, default-initialised as the reference does; see registry.cpp for its input and
/// head.
Classifier wide_resnet50_2(const ModelOptions& options);

/// wide_resnet101_2, default-initialised as the reference does; see registry.cpp for its input and
/// head.
Classifier wide_resnet101_2(const ModelOptions& options);

}  // namespace xfer::models

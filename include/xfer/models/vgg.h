#pragma once
// VGG-11/13/16/19 with and without batch-norm, mirroring torchvision 0.14
// torchvision/models/vgg.py.

#include "xfer/models/registry.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace xfer::models {

/// torchvision's VGG: `features` (3x3 convolutions [+ batch-norm] + ReLU, five 2x2/2 max-pools),
/// `avgpool` (adaptive, to 7x7), and `classifier` whose children `0`..`6` are Linear(25088, 4096),
/// ReLU, Dropout(0.5), Linear(4096, 4096), ReLU, Dropout(0.5) and the head Linear(4096, C), under
/// torchvision's indices so weight keys match (`features.0.weight`, `classifier.6.bias`).
class VGGImpl : public ClassifierImpl {
 public:
  /// Builds VGG-`depth` (11, 13, 16 or 19), with batch-norm after every convolution when
  /// `batch_norm`, and a head of `num_classes`, initialised as torchvision does (Kaiming-normal
  /// fan-out convolutions with zero bias, batch-norm 1/0, Linear weights normal(0, 0.01) with zero
  /// bias).
  /// Throws InvalidArgument for another depth or num_classes < 1.
  VGGImpl(int64_t depth, bool batch_norm, int64_t num_classes);

  /// Features [N, 4096] float32 of images [N,3,H,W] float32 with H, W >= 32: the output of
  /// `classifier.5`, i.e. after the second hidden Linear, its ReLU and its Dropout (a no-op in
  /// eval mode).
  torch::Tensor features(const torch::Tensor& images) override;

  /// Logits [N, num_classes] of features [N, 4096]: the head `classifier.6`.
  torch::Tensor classify(const torch::Tensor& features) override;

 protected:
  /// torchvision's Linear initialisation: weight normal(0, 0.01), bias 0.
  void init_head(torch::nn::Module& head) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  // `classifier`: a plain module holding children 0..6 (not a Sequential, so that the head at
  // `classifier.6` can be replaced on it and the features taken from between its children).
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Linear hidden1_{nullptr};
  torch::nn::ReLU relu1_{nullptr};
  torch::nn::Dropout dropout1_{nullptr};
  torch::nn::Linear hidden2_{nullptr};
  torch::nn::ReLU relu2_{nullptr};
  torch::nn::Dropout dropout2_{nullptr};
};

/// vgg11, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg11(const ModelOptions& options);

/// vgg11_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg11_bn(const ModelOptions& options);

/// vgg13, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg13(const ModelOptions& options);

/// vgg13_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg13_bn(const ModelOptions& options);

/// vgg16, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg16(const ModelOptions& options);

/// vgg16_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg16_bn(const ModelOptions& options);

/// vgg19, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg19(const ModelOptions& options);

/// vgg19_bn, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier vgg19_bn(const ModelOptions& options);

}  // namespace xfer::models

#pragma once
// AlexNet, mirroring torchvision 0.14 torchvision/models/alexnet.py.

#include "xfer/models/registry.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace xfer::models {

/// torchvision's AlexNet (the "one weird trick" variant, 64-192-384-256-256 channels):
/// `features` (five convolutions with ReLU, three 3x3/2 max-pools), `avgpool` (adaptive, to 6x6)
/// and `classifier` whose children `0`..`6` are Dropout(0.5), Linear(9216, 4096), ReLU,
/// Dropout(0.5), Linear(4096, 4096), ReLU and the head Linear(4096, C), under torchvision's
/// indices so weight keys match.
class AlexNetImpl : public ClassifierImpl {
 public:
  /// Builds AlexNet with a head of `num_classes`, with PyTorch's default initialisation as
  /// torchvision's has. Throws InvalidArgument for num_classes < 1.
  explicit AlexNetImpl(int64_t num_classes);

  /// Features [N, 4096] float32 of images [N,3,H,W] float32 with H, W >= 63: the output of
  /// `classifier.5`, the second hidden Linear's ReLU.
  torch::Tensor features(const torch::Tensor& images) override;

  /// Logits [N, num_classes] of features [N, 4096]: the head `classifier.6`.
  torch::Tensor classify(const torch::Tensor& features) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  // `classifier`: a plain module holding children 0..6 (not a Sequential, so that the head at
  // `classifier.6` can be replaced on it and the features taken from between its children).
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Dropout dropout1_{nullptr};
  torch::nn::Linear hidden1_{nullptr};
  torch::nn::ReLU relu1_{nullptr};
  torch::nn::Dropout dropout2_{nullptr};
  torch::nn::Linear hidden2_{nullptr};
  torch::nn::ReLU relu2_{nullptr};
};

/// alexnet, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier alexnet(const ModelOptions& options);

}  // namespace xfer::models

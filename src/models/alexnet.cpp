// AlexNet, mirroring torchvision 0.14 torchvision/models/alexnet.py: the same `features` indices,
// `avgpool` and `classifier.0..6`, and nn's default initialisation (torchvision sets none;
// dropout 0.5). ReLUs are not in-place, so a tapped output keeps the value the module returned.

#include "xfer/models/alexnet.h"

#include "xfer/core/error.h"

#include <torch/nn/modules/conv.h>

namespace xfer::models {
namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

torch::nn::MaxPool2d max_pool() {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2));
}

}  // namespace

AlexNetImpl::AlexNetImpl(int64_t num_classes) {
  if (num_classes < 1) {
    throw InvalidArgument("alexnet: num_classes: expected at least 1, got " +
                          std::to_string(num_classes));
  }
  features_ = register_module(
      "features", torch::nn::Sequential(conv(3, 64, 11, 4, 2), torch::nn::ReLU(), max_pool(),
                                        conv(64, 192, 5, 1, 2), torch::nn::ReLU(), max_pool(),
                                        conv(192, 384, 3, 1, 1), torch::nn::ReLU(),
                                        conv(384, 256, 3, 1, 1), torch::nn::ReLU(),
                                        conv(256, 256, 3, 1, 1), torch::nn::ReLU(), max_pool()));
  avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(6));
  classifier_ =
      register_module("classifier", std::make_shared<torch::nn::Module>("AlexNetClassifier"));
  dropout1_ = classifier_->register_module("0", torch::nn::Dropout(0.5));
  hidden1_ = classifier_->register_module("1", torch::nn::Linear(256 * 6 * 6, 4096));
  relu1_ = classifier_->register_module("2", torch::nn::ReLU());
  dropout2_ = classifier_->register_module("3", torch::nn::Dropout(0.5));
  hidden2_ = classifier_->register_module("4", torch::nn::Linear(4096, 4096));
  relu2_ = classifier_->register_module("5", torch::nn::ReLU());
  set_head("classifier.6", 4096, torch::nn::AnyModule(torch::nn::Linear(4096, num_classes)));
}

torch::Tensor AlexNetImpl::features(const torch::Tensor& images) {
  torch::Tensor x = run(features_, images);              // [N, 256, H', W']
  x = torch::flatten(run(avgpool_, x), 1);               // [N, 9216]
  x = run(relu1_, run(hidden1_, run(dropout1_, x)));     // [N, 4096]
  return run(relu2_, run(hidden2_, run(dropout2_, x)));  // [N, 4096]
}

torch::Tensor AlexNetImpl::classify(const torch::Tensor& features) {
  return run_head_in(*classifier_, features);  // [N, num_classes]
}

Classifier alexnet(const ModelOptions& options) {
  return std::make_shared<AlexNetImpl>(options.num_classes());
}

}  // namespace xfer::models

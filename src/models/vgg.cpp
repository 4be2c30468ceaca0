// VGG-11/13/16/19 (configurations "A", "B", "D" and "E"), mirroring torchvision 0.14
// torchvision/models/vgg.py: the same `features` indices, `avgpool`, `classifier.0..6`, and the
// same initialisation (init_weights=True, dropout=0.5). ReLUs are not in-place, so a tapped output
// keeps the value the module returned.

#include "xfer/models/vgg.h"

#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <vector>

namespace xfer::models {
namespace {

// torchvision's cfgs: output channels of each 3x3 convolution, kMaxPool for a 2x2/2 max-pool.
constexpr int64_t kMaxPool = 0;

struct Layout {
  int64_t depth;
  std::vector<int64_t> layers;
};

const std::vector<Layout>& layouts() {
  static const std::vector<Layout> table = {
      {11,
       {64, kMaxPool, 128, kMaxPool, 256, 256, kMaxPool, 512, 512, kMaxPool, 512, 512, kMaxPool}},
      {13,
       {64, 64, kMaxPool, 128, 128, kMaxPool, 256, 256, kMaxPool, 512, 512, kMaxPool, 512, 512,
        kMaxPool}},
      {16,
       {64, 64, kMaxPool, 128, 128, kMaxPool, 256, 256, 256, kMaxPool, 512, 512, 512, kMaxPool, 512,
        512, 512, kMaxPool}},
      {19, {64,  64,  kMaxPool, 128, 128,      kMaxPool, 256, 256, 256, 256,     kMaxPool,
            512, 512, 512,      512, kMaxPool, 512,      512, 512, 512, kMaxPool}},
  };
  return table;
}

const Layout& layout_of(int64_t depth) {
  for (const auto& layout : layouts()) {
    if (layout.depth == depth) return layout;
  }
  throw InvalidArgument("vgg: expected depth 11, 13, 16 or 19, got " + std::to_string(depth));
}

// torchvision's make_layers.
torch::nn::Sequential make_features(const std::vector<int64_t>& layers, bool batch_norm) {
  torch::nn::Sequential features;
  int64_t in_channels = 3;
  for (const int64_t channels : layers) {
    if (channels == kMaxPool) {
      features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    features->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, channels, 3).padding(1)));
    if (batch_norm) features->push_back(torch::nn::BatchNorm2d(channels));
    features->push_back(torch::nn::ReLU());
    in_channels = channels;
  }
  return features;
}

void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear.weight, 0, 0.01);
  torch::nn::init::constant_(linear.bias, 0);
}

}  // namespace

VGGImpl::VGGImpl(int64_t depth, bool batch_norm, int64_t num_classes) {
  const Layout& layout = layout_of(depth);
  if (num_classes < 1) {
    throw InvalidArgument("vgg" + std::to_string(depth) +
                          ": num_classes: expected at least 1, got " + std::to_string(num_classes));
  }
  features_ = register_module("features", make_features(layout.layers, batch_norm));
  avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(7));
  classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("VGGClassifier"));
  hidden1_ = classifier_->register_module("0", torch::nn::Linear(512 * 7 * 7, 4096));
  relu1_ = classifier_->register_module("1", torch::nn::ReLU());
  dropout1_ = classifier_->register_module("2", torch::nn::Dropout(0.5));
  hidden2_ = classifier_->register_module("3", torch::nn::Linear(4096, 4096));
  relu2_ = classifier_->register_module("4", torch::nn::ReLU());
  dropout2_ = classifier_->register_module("5", torch::nn::Dropout(0.5));
  torch::nn::Linear head(4096, num_classes);

  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
      torch::nn::init::constant_(conv->bias, 0);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::constant_(bn->weight, 1);
      torch::nn::init::constant_(bn->bias, 0);
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      init_linear(*linear);
    }
  }
  init_linear(*head);
  set_head("classifier.6", 4096, torch::nn::AnyModule(head));
}

torch::Tensor VGGImpl::features(const torch::Tensor& images) {
  torch::Tensor x = run(features_, images);              // [N, 512, H/32, W/32]
  x = run(avgpool_, x);                                  // [N, 512, 7, 7]
  x = torch::flatten(x, 1);                              // [N, 25088]
  x = run(dropout1_, run(relu1_, run(hidden1_, x)));     // [N, 4096]
  return run(dropout2_, run(relu2_, run(hidden2_, x)));  // [N, 4096]
}

torch::Tensor VGGImpl::classify(const torch::Tensor& features) {
  return run_head_in(*classifier_, features);  // [N, num_classes]
}

void VGGImpl::init_head(torch::nn::Module& head) {
  init_linear(dynamic_cast<torch::nn::LinearImpl&>(head));
}

Classifier vgg11(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(11, false, options.num_classes());
}

Classifier vgg11_bn(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(11, true, options.num_classes());
}

Classifier vgg13(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(13, false, options.num_classes());
}

Classifier vgg13_bn(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(13, true, options.num_classes());
}

Classifier vgg16(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(16, false, options.num_classes());
}

Classifier vgg16_bn(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(16, true, options.num_classes());
}

Classifier vgg19(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(19, false, options.num_classes());
}

Classifier vgg19_bn(const ModelOptions& options) {
  return std::make_shared<VGGImpl>(19, true, options.num_classes());
}

}  // namespace xfer::models

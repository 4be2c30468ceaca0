// SqueezeNet, mirroring torchvision 0.14 torchvision/models/squeezenet.py: the same children under
// the same names (`features.3.expand3x3`, `classifier.1`), in the same order, with the same
// initialisation. ReLUs are not in-place, so a tapped output keeps the value the module returned.

#include "xfer/models/squeezenet.h"

#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace xfer::models {
namespace {

// Channels of the map the head classifies.
constexpr int64_t kFeatureChannels = 512;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                       int64_t padding = 0) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

torch::nn::MaxPool2d max_pool() {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).ceil_mode(true));
}

// torchvision's Fire: a 1x1 squeeze, then 1x1 and 3x3 expansions side by side.
class FireImpl : public torch::nn::Module {
 public:
  FireImpl(int64_t in, int64_t squeeze, int64_t expand1x1, int64_t expand3x3)
      : squeeze_(register_module("squeeze", conv(in, squeeze, 1))),
        squeeze_activation_(register_module("squeeze_activation", torch::nn::ReLU())),
        expand1x1_(register_module("expand1x1", conv(squeeze, expand1x1, 1))),
        expand1x1_activation_(register_module("expand1x1_activation", torch::nn::ReLU())),
        expand3x3_(register_module("expand3x3", conv(squeeze, expand3x3, 3, 1, 1))),
        expand3x3_activation_(register_module("expand3x3_activation", torch::nn::ReLU())) {}

  // [N, in, H, W] → [N, expand1x1 + expand3x3, H, W].
  torch::Tensor forward(const torch::Tensor& input) {
    const torch::Tensor x = run(squeeze_activation_, run(squeeze_, input));
    return torch::cat({run(expand1x1_activation_, run(expand1x1_, x)),
                       run(expand3x3_activation_, run(expand3x3_, x))},
                      1);
  }

 private:
  torch::nn::Conv2d squeeze_;
  torch::nn::ReLU squeeze_activation_;
  torch::nn::Conv2d expand1x1_;
  torch::nn::ReLU expand1x1_activation_;
  torch::nn::Conv2d expand3x3_;
  torch::nn::ReLU expand3x3_activation_;
};
TORCH_MODULE(Fire);

torch::nn::Sequential features_1_0() {
  return torch::nn::Sequential(conv(3, 96, 7, 2), torch::nn::ReLU(), max_pool(),
                               Fire(96, 16, 64, 64), Fire(128, 16, 64, 64),
                               Fire(128, 32, 128, 128), max_pool(), Fire(256, 32, 128, 128),
                               Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                               Fire(384, 64, 256, 256), max_pool(), Fire(512, 64, 256, 256));
}

torch::nn::Sequential features_1_1() {
  return torch::nn::Sequential(conv(3, 64, 3, 2), torch::nn::ReLU(), max_pool(),
                               Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), max_pool(),
                               Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), max_pool(),
                               Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                               Fire(384, 64, 256, 256), Fire(512, 64, 256, 256));
}

// torchvision's init of the head, the final convolution, and of a Linear head that replaces it.
void init_head_weights(const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(weight, 0, 0.01);
  torch::nn::init::constant_(bias, 0);
}

class SqueezeNetImpl : public ClassifierImpl {
 public:
  SqueezeNetImpl(const std::string& name, torch::nn::Sequential features, int64_t num_classes) {
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    features_ = register_module("features", std::move(features));
    classifier_ =
        register_module("classifier", std::make_shared<torch::nn::Module>("SqueezeNetClassifier"));
    dropout_ = classifier_->register_module("0", torch::nn::Dropout(0.5));
    final_conv_ = conv(kFeatureChannels, num_classes, 1);
    set_head("classifier.1", kFeatureChannels, torch::nn::AnyModule(final_conv_));
    relu_ = classifier_->register_module("2", torch::nn::ReLU());
    avgpool_ = classifier_->register_module("3", torch::nn::AdaptiveAvgPool2d(1));

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      auto* convolution = module->as<torch::nn::Conv2d>();
      if (convolution == nullptr) continue;
      if (convolution == final_conv_.get()) {
        init_head_weights(convolution->weight, convolution->bias);
      } else {
        torch::nn::init::kaiming_uniform_(convolution->weight);
        torch::nn::init::constant_(convolution->bias, 0);
      }
    }
  }

  bool classifies_features() const override { return head_module() != final_conv_.ptr(); }

  // torchvision's forward while the convolutional head is on; classify(features()) after.
  ClassifierOutput forward_full(const torch::Tensor& images) override {
    if (classifies_features()) return ClassifierImpl::forward_full(images);
    const torch::Tensor map = run(features_, images);  // [N, 512, h, w]
    return {torch::flatten(classify_map(map), 1), {}};
  }

  // Pooled features [N, 512]: the global average of `features`' map, which torchvision's head
  // only takes after classifying it.
  torch::Tensor features(const torch::Tensor& images) override {
    const torch::Tensor map = run(features_, images);                  // [N, 512, h, w]
    return torch::flatten(torch::adaptive_avg_pool2d(map, {1, 1}), 1);  // [N, 512]
  }

  // The convolutional head classifies features [N, 512] as a map of one position: what
  // forward() gives when the map is 1x1, and no more than that; another head classifies them.
  torch::Tensor classify(const torch::Tensor& features) override {
    if (classifies_features()) return run_head_in(*classifier_, run(dropout_, features));
    return torch::flatten(classify_map(features.unsqueeze(-1).unsqueeze(-1)), 1);
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    auto& linear = dynamic_cast<torch::nn::LinearImpl&>(head);
    init_head_weights(linear.weight, linear.bias);
  }

 private:
  // torchvision's classifier on a map [N, 512, h, w] → [N, C, 1, 1].
  torch::Tensor classify_map(const torch::Tensor& map) {
    torch::Tensor x = run(relu_, run_head(run(dropout_, map)));  // [N, C, h, w]
    x = run(avgpool_, x);                                        // [N, C, 1, 1]
    detail::record(classifier_.get(), x);
    return x;
  }

  torch::nn::Sequential features_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Conv2d final_conv_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

}  // namespace

Classifier squeezenet1_0(const ModelOptions& options) {
  return std::make_shared<SqueezeNetImpl>("squeezenet1_0", features_1_0(), options.num_classes());
}

Classifier squeezenet1_1(const ModelOptions& options) {
  return std::make_shared<SqueezeNetImpl>("squeezenet1_1", features_1_1(), options.num_classes());
}

}  // namespace xfer::models

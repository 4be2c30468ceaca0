// DenseNet-121/161/169/201, mirroring torchvision 0.14 torchvision/models/densenet.py (bn_size 4,
// drop_rate 0, not memory-efficient): the same children under the same names, in the same order,
// with the same initialisation. ReLUs are not in-place, so a tapped output keeps the value the
// module returned.

#include "xfer/models/densenet.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>
#include <regex>
#include <vector>

namespace xfer::models {
namespace {

constexpr int64_t kBottleneck = 4;  // torchvision's bn_size

struct Layout {
  const char* name;
  int64_t growth;
  std::array<int64_t, 4> blocks;
  int64_t stem;  // num_init_features
};

constexpr std::array<Layout, 4> kLayouts{{
    {"densenet121", 32, {6, 12, 24, 16}, 64},
    {"densenet161", 48, {6, 12, 36, 24}, 96},
    {"densenet169", 32, {6, 12, 32, 32}, 64},
    {"densenet201", 32, {6, 12, 48, 32}, 64},
}};

const Layout& layout_of(const std::string& name) {
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
  }
  throw InvalidArgument("densenet: expected densenet121, 161, 169 or 201, got '" + name + "'");
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

// torchvision's _DenseLayer: BN-ReLU-1x1 conv to bn_size x growth, BN-ReLU-3x3 conv to growth.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in, int64_t growth) {
    norm1_ = register_module("norm1", torch::nn::BatchNorm2d(in));
    relu1_ = register_module("relu1", torch::nn::ReLU());
    conv1_ = register_module("conv1", conv(in, kBottleneck * growth, 1, 1, 0));
    norm2_ = register_module("norm2", torch::nn::BatchNorm2d(kBottleneck * growth));
    relu2_ = register_module("relu2", torch::nn::ReLU());
    conv2_ = register_module("conv2", conv(kBottleneck * growth, growth, 3, 1, 1));
  }

  // The concatenation of every earlier output [N, in, H, W] → [N, growth, H, W].
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(conv1_, run(relu1_, run(norm1_, x)));  // [N, 4 growth, H, W]
    return run(conv2_, run(relu2_, run(norm2_, y)));              // [N, growth, H, W]
  }

 private:
  torch::nn::BatchNorm2d norm1_{nullptr};
  torch::nn::ReLU relu1_{nullptr};
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d norm2_{nullptr};
  torch::nn::ReLU relu2_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
};
TORCH_MODULE(DenseLayer);

// torchvision's _DenseBlock: `denselayer1..n`, each fed the input and every output before it.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t layers, int64_t in, int64_t growth) {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        DenseLayer(in + i * growth, growth)));
    }
  }

  // [N, in, H, W] → [N, in + layers x growth, H, W].
  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> features{x};
    for (auto& layer : layers_) features.push_back(run(layer, torch::cat(features, 1)));
    return torch::cat(features, 1);
  }

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

class DenseNetImpl : public ClassifierImpl {
 public:
  DenseNetImpl(const std::string& name, int64_t num_classes) {
    const Layout& layout = layout_of(name);
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    features_ = register_module("features", detail::Stage());
    const auto add = [this](const std::string& child, auto module) {
      features_->push_back(child, torch::nn::AnyModule(module));
    };
    add("conv0", conv(3, layout.stem, 7, 2, 3));
    add("norm0", torch::nn::BatchNorm2d(layout.stem));
    add("relu0", torch::nn::ReLU());
    add("pool0", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int64_t channels = layout.stem;
    for (size_t b = 0; b < layout.blocks.size(); ++b) {
      add("denseblock" + std::to_string(b + 1),
          DenseBlock(layout.blocks[b], channels, layout.growth));
      channels += layout.blocks[b] * layout.growth;
      if (b + 1 == layout.blocks.size()) break;
      detail::Stage transition;
      transition->push_back("norm", torch::nn::AnyModule(torch::nn::BatchNorm2d(channels)));
      transition->push_back("relu", torch::nn::AnyModule(torch::nn::ReLU()));
      transition->push_back("conv", torch::nn::AnyModule(conv(channels, channels / 2, 1, 1, 0)));
      transition->push_back("pool", torch::nn::AnyModule(torch::nn::AvgPool2d(
                                        torch::nn::AvgPool2dOptions(2).stride(2))));
      add("transition" + std::to_string(b + 1), transition);
      channels /= 2;
    }
    add("norm5", torch::nn::BatchNorm2d(channels));
    torch::nn::Linear head(channels, num_classes);

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* c = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight);
      } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      }
    }
    torch::nn::init::zeros_(head->bias);
    set_head("classifier", channels, torch::nn::AnyModule(head));
  }

  torch::Tensor features(const torch::Tensor& images) override {
    torch::Tensor x = torch::relu(run(features_, images));  // [N, C, H/32, W/32]
    return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);     // [N, C]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head(features);  // [N, num_classes]
  }

 protected:
  // torchvision zeroes the Linear bias and keeps nn.Linear's default weight.
  void init_head(torch::nn::Module& head) override {
    torch::NoGradGuard no_grad;
    torch::nn::init::zeros_(dynamic_cast<torch::nn::LinearImpl&>(head).bias);
  }

 private:
  detail::Stage features_{nullptr};
};

}  // namespace

std::string upgrade_densenet_key(const std::string& key) {
  static const std::regex old_name(R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.)"
                                   R"(((?:[12])\.(?:weight|bias|running_mean|running_var))$)");
  std::smatch match;
  if (!std::regex_match(key, match, old_name)) return key;
  return match[1].str() + match[2].str();
}

Classifier densenet121(const ModelOptions& options) {
  return std::make_shared<DenseNetImpl>("densenet121", options.num_classes());
}

Classifier densenet161(const ModelOptions& options) {
  return std::make_shared<DenseNetImpl>("densenet161", options.num_classes());
}

Classifier densenet169(const ModelOptions& options) {
  return std::make_shared<DenseNetImpl>("densenet169", options.num_classes());
}

Classifier densenet201(const ModelOptions& options) {
  return std::make_shared<DenseNetImpl>("densenet201", options.num_classes());
}

}  // namespace xfer::models

// ConvNeXt (Liu et al. 2022), mirroring torchvision 0.14 torchvision/models/convnext.py: a 4x4
// stride-4 stem, four stages of CNBlocks (depthwise 7x7 convolution, then LayerNorm and an MLP on
// channels-last pixels, scaled by a learned per-channel layer scale, behind stochastic depth), a
// LayerNorm2d and 2x2 stride-2 convolution between stages.

#include "xfer/models/convnext.h"

#include "models/detail/layers.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <vector>

namespace xfer::models {
namespace {

constexpr double kNormEps = 1e-6;
constexpr double kLayerScale = 1e-6;

// One stage: its width, the width of the downsampling after it (0 for the last stage) and its
// block count; torchvision's CNBlockConfig.
struct StageSetting {
  int64_t channels;
  int64_t out_channels;
  int64_t layers;
};

// torchvision's LayerNorm2d: LayerNorm over the channels of each pixel of [N, C, H, W], computed
// on the permuted [N, H, W, C] and permuted back. A LayerNorm itself in torchvision (its weight
// and bias are the module's own); here a LayerNorm whose forward is wrapped in the permutes.
class LayerNorm2dImpl : public detail::LayerNormImpl {
 public:
  explicit LayerNorm2dImpl(int64_t channels) : detail::LayerNormImpl(channels, kNormEps) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = detail::LayerNormImpl::forward(x.permute({0, 2, 3, 1}));
    // [N, H, W, C]
    return y.permute({0, 3, 1, 2});  // [N, C, H, W]
  }
};
TORCH_MODULE(LayerNorm2d);

// torchvision's CNBlock: x + stochastic_depth(layer_scale * block(x)), where `block` is a
// depthwise 7x7 convolution, then on channels-last pixels LayerNorm, Linear to 4C, GELU, Linear
// back to C.
class CNBlockImpl : public torch::nn::Module {
 public:
  CNBlockImpl(int64_t channels, double stochastic_depth) {
    layer_scale_ =
        register_parameter("layer_scale", torch::full({channels, 1, 1}, kLayerScale));
    block_ = register_module("block", torch::nn::Sequential());
    block_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(channels, channels, 7).padding(3).groups(channels)));
    block_->push_back(detail::Permute(std::vector<int64_t>{0, 2, 3, 1}));
    block_->push_back(detail::LayerNorm(channels, kNormEps));
    block_->push_back(torch::nn::Linear(channels, 4 * channels));
    block_->push_back(torch::nn::GELU());
    block_->push_back(torch::nn::Linear(4 * channels, channels));
    block_->push_back(detail::Permute(std::vector<int64_t>{0, 3, 1, 2}));
    stochastic_depth_ =
        register_module("stochastic_depth", detail::StochasticDepth(stochastic_depth));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = layer_scale_ * run(block_, x);
    // [N, C, H, W]
    return run(stochastic_depth_, y) + x;
  }

 private:
  torch::Tensor layer_scale_;
  torch::nn::Sequential block_{nullptr};
  detail::StochasticDepth stochastic_depth_{nullptr};
};
TORCH_MODULE(CNBlock);

// Between stages: LayerNorm2d "0", then a 2x2 stride-2 convolution "1" to the next width.
class DownsampleImpl : public torch::nn::Module {
 public:
  DownsampleImpl(int64_t in_channels, int64_t out_channels) {
    norm_ = register_module("0", LayerNorm2d(in_channels));
    conv_ = register_module(
        "1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 2).stride(2)));
  }

  torch::Tensor forward(const torch::Tensor& x) { return run(conv_, run(norm_, x)); }

 private:
  LayerNorm2d norm_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Downsample);

// The stem, torchvision's Conv2dNormActivation(3, C, 4, stride 4, padding 0, LayerNorm2d, no
// activation, bias): a 4x4 stride-4 convolution "0" with bias, then LayerNorm2d "1".
class StemImpl : public torch::nn::Module {
 public:
  explicit StemImpl(int64_t channels) {
    conv_ = register_module(
        "0", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, channels, 4).stride(4)));
    norm_ = register_module("1", LayerNorm2d(channels));
  }

  torch::Tensor forward(const torch::Tensor& x) { return run(norm_, run(conv_, x)); }

 private:
  torch::nn::Conv2d conv_{nullptr};
  LayerNorm2d norm_{nullptr};
};
TORCH_MODULE(Stem);

// torchvision's initialisation: every Conv2d and Linear weight trunc_normal_(std 0.02) within
// ±2, biases zero; LayerNorms keep weight 1 and bias 0.
void init_weight(torch::Tensor& weight, torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  detail::trunc_normal_(weight, 0, 0.02, -2, 2);
  if (bias.defined()) torch::nn::init::zeros_(bias);
}

void init_convnext(torch::nn::Module& root) {
  for (const auto& module : root.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      init_weight(conv->weight, conv->bias);
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      init_weight(linear->weight, linear->bias);
    }
  }
}

class ConvNeXtImpl : public ClassifierImpl {
 public:
  ConvNeXtImpl(const std::vector<StageSetting>& stages, double stochastic_depth,
               int64_t num_classes) {
    int64_t total_blocks = 0;
    for (const auto& stage : stages) total_blocks += stage.layers;
    features_ = register_module("features", torch::nn::Sequential());
    features_->push_back(Stem(stages.front().channels));
    int64_t block_index = 0;
    for (const auto& stage : stages) {
      detail::Stage blocks;
      for (int64_t i = 0; i < stage.layers; ++i) {
        const double drop = stochastic_depth * static_cast<double>(block_index) /
                            (static_cast<double>(total_blocks) - 1.0);
        blocks->push_back(torch::nn::AnyModule(CNBlock(stage.channels, drop)));
        ++block_index;
      }
      features_->push_back(blocks);
      if (stage.out_channels > 0) {
        features_->push_back(Downsample(stage.channels, stage.out_channels));
      }
    }
    const int64_t channels = stages.back().channels;
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    // torchvision's `classifier` is nn.Sequential(LayerNorm2d, Flatten, Linear); here a plain
    // parent, so the head at "classifier.2" can be replaced by path. Its first two children
    // belong to features(): the pooled features are normalised.
    classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Sequential"));
    norm_ = classifier_->register_module("0", LayerNorm2d(channels));
    flatten_ = classifier_->register_module("1", torch::nn::Flatten());
    set_head("classifier.2", channels,
             torch::nn::AnyModule(torch::nn::Linear(channels, num_classes)));
    init_convnext(*this);
  }

  torch::Tensor features(const torch::Tensor& images) override {
    // [N, 3, H, W]
    torch::Tensor x = run(features_, images);
    // [N, C, H / 32, W / 32]
    x = run(flatten_, run(norm_, run(avgpool_, x)));
    // [N, C]
    return x;
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*classifier_, features);  // [N, num_classes]
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    auto* linear = head.as<torch::nn::Linear>();
    init_weight(linear->weight, linear->bias);
  }

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  LayerNorm2d norm_{nullptr};
  torch::nn::Flatten flatten_{nullptr};
};

Classifier make(const std::vector<StageSetting>& stages, double stochastic_depth,
                const ModelOptions& options) {
  return std::make_shared<ConvNeXtImpl>(stages, stochastic_depth, options.num_classes());
}

}  // namespace

Classifier convnext_tiny(const ModelOptions& options) {
  return make({{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, 0, 3}}, 0.1, options);
}

Classifier convnext_small(const ModelOptions& options) {
  return make({{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, 0, 3}}, 0.4, options);
}

Classifier convnext_base(const ModelOptions& options) {
  return make({{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, 0, 3}}, 0.5, options);
}

Classifier convnext_large(const ModelOptions& options) {
  return make({{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, 0, 3}}, 0.5, options);
}

}  // namespace xfer::models

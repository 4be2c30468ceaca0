// EfficientNet B0-B7 and EfficientNetV2 S/M/L, mirroring torchvision 0.14
// torchvision/models/efficientnet.py: MBConv (inverted residual with squeeze-and-excitation and
// SiLU) and FusedMBConv blocks, grouped into stages that are nested Sequentials in `features`,
// each residual branch behind a StochasticDepth whose drop rate grows linearly with depth.

#include "xfer/models/efficientnet.h"

#include "models/detail/layers.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace xfer::models {
namespace {

using detail::Activation;
using detail::Conv2dNormActivation;
using detail::Conv2dNormActivationOptions;

// torchvision's default: the last block's residual branch is dropped with probability
// 0.2 * (blocks - 1) / blocks in training.
constexpr double kStochasticDepth = 0.2;

// One row of Table 1 of the EfficientNet paper or Table 4 of EfficientNetV2's, as torchvision's
// MBConvConfig / FusedMBConvConfig before width and depth scaling.
struct StageSetting {
  bool fused;
  double expand_ratio;
  int64_t kernel;
  int64_t stride;
  int64_t in_channels;
  int64_t out_channels;
  int64_t layers;
};

// The BatchNorm2d of every block.
struct Norm {
  double eps;
  double momentum;
};

// One variant: its stages, scaling, last convolution's width (0: 4 x the last stage's), dropout
// before the head and batch norm.
struct Variant {
  std::vector<StageSetting> stages;
  double width_mult;
  double depth_mult;
  int64_t last_channels;
  double dropout;
  Norm norm;
};

const std::vector<StageSetting> kV1Stages = {
    {false, 1, 3, 1, 32, 16, 1},  {false, 6, 3, 2, 16, 24, 2},   {false, 6, 5, 2, 24, 40, 2},
    {false, 6, 3, 2, 40, 80, 3},  {false, 6, 5, 1, 80, 112, 3},  {false, 6, 5, 2, 112, 192, 4},
    {false, 6, 3, 1, 192, 320, 1}};

const std::vector<StageSetting> kV2SStages = {
    {true, 1, 3, 1, 24, 24, 2},     {true, 4, 3, 2, 24, 48, 4},     {true, 4, 3, 2, 48, 64, 4},
    {false, 4, 3, 2, 64, 128, 6},   {false, 6, 3, 1, 128, 160, 9},  {false, 6, 3, 2, 160, 256, 15}};

const std::vector<StageSetting> kV2MStages = {
    {true, 1, 3, 1, 24, 24, 3},     {true, 4, 3, 2, 24, 48, 5},     {true, 4, 3, 2, 48, 80, 5},
    {false, 4, 3, 2, 80, 160, 7},   {false, 6, 3, 1, 160, 176, 14}, {false, 6, 3, 2, 176, 304, 18},
    {false, 6, 3, 1, 304, 512, 5}};

const std::vector<StageSetting> kV2LStages = {
    {true, 1, 3, 1, 32, 32, 4},     {true, 4, 3, 2, 32, 64, 7},     {true, 4, 3, 2, 64, 96, 7},
    {false, 4, 3, 2, 96, 192, 10},  {false, 6, 3, 1, 192, 224, 19}, {false, 6, 3, 2, 224, 384, 25},
    {false, 6, 3, 1, 384, 640, 7}};

constexpr Norm kTorchNorm{1e-5, 0.1};
constexpr Norm kTensorflowNorm{1e-3, 0.01};
constexpr Norm kV2Norm{1e-3, 0.1};

// torchvision's adjust_channels: `channels` scaled and rounded to a multiple of 8.
int64_t adjust_channels(double channels, double mult) {
  return detail::make_divisible(channels * mult, 8);
}

Conv2dNormActivationOptions conv_options(int64_t in_channels, int64_t out_channels, Norm norm) {
  return Conv2dNormActivationOptions(in_channels, out_channels)
      .eps(norm.eps)
      .momentum(norm.momentum)
      .activation(Activation::kSiLU);
}

// A block's channels and stride after scaling, torchvision's per-block copy of the config.
struct BlockSetting {
  bool fused;
  double expand_ratio;
  int64_t kernel;
  int64_t stride;
  int64_t in_channels;
  int64_t out_channels;
};

// torchvision's MBConv and FusedMBConv: `block` holds the convolutions (MBConv: expanding 1x1 when
// the expansion widens, depthwise, squeeze-and-excitation, linear 1x1 projection; FusedMBConv: a
// full kxk convolution that expands, then the projection, or one kxk convolution when it does not
// expand), `stochastic_depth` drops the residual branch.
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(const BlockSetting& setting, double stochastic_depth, Norm norm)
      : use_residual_(setting.stride == 1 && setting.in_channels == setting.out_channels) {
    const int64_t in = setting.in_channels;
    const int64_t expanded = adjust_channels(static_cast<double>(in), setting.expand_ratio);
    const auto project = conv_options(expanded, setting.out_channels, norm)
                             .kernel_size(1)
                             .activation(Activation::kNone);
    block_ = register_module("block", torch::nn::Sequential());
    if (setting.fused) {
      if (expanded != in) {
        block_->push_back(Conv2dNormActivation(
            conv_options(in, expanded, norm).kernel_size(setting.kernel).stride(setting.stride)));
        block_->push_back(Conv2dNormActivation(project));
      } else {
        block_->push_back(Conv2dNormActivation(conv_options(in, setting.out_channels, norm)
                                                   .kernel_size(setting.kernel)
                                                   .stride(setting.stride)));
      }
    } else {
      if (expanded != in) {
        block_->push_back(
            Conv2dNormActivation(conv_options(in, expanded, norm).kernel_size(1)));
      }
      block_->push_back(Conv2dNormActivation(conv_options(expanded, expanded, norm)
                                                 .kernel_size(setting.kernel)
                                                 .stride(setting.stride)
                                                 .groups(expanded)));
      block_->push_back(detail::SqueezeExcitation(expanded, std::max<int64_t>(1, in / 4),
                                                  Activation::kSiLU,
                                                  detail::ScaleActivation::kSigmoid));
      block_->push_back(Conv2dNormActivation(project));
    }
    stochastic_depth_ =
        register_module("stochastic_depth", detail::StochasticDepth(stochastic_depth));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(block_, x);
    // [N, out, H / stride, W / stride]
    if (!use_residual_) return y;
    return run(stochastic_depth_, y) + x;
  }

 private:
  bool use_residual_;
  torch::nn::Sequential block_{nullptr};
  detail::StochasticDepth stochastic_depth_{nullptr};
};
TORCH_MODULE(MBConv);

// torchvision's EfficientNet initialises a Linear uniform(±1 / sqrt(out_features)) with zero
// bias (and convolutions and batch norms as the MobileNets: detail::init_convolutional).
void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  const double range = 1.0 / std::sqrt(static_cast<double>(linear.weight.size(0)));
  torch::nn::init::uniform_(linear.weight, -range, range);
  torch::nn::init::zeros_(linear.bias);
}

class EfficientNetImpl : public ClassifierImpl {
 public:
  EfficientNetImpl(const Variant& variant, int64_t num_classes) {
    std::vector<StageSetting> stages = variant.stages;
    int64_t total_blocks = 0;
    for (auto& stage : stages) {
      stage.in_channels = adjust_channels(static_cast<double>(stage.in_channels), variant.width_mult);
      stage.out_channels =
          adjust_channels(static_cast<double>(stage.out_channels), variant.width_mult);
      stage.layers = static_cast<int64_t>(
          std::ceil(static_cast<double>(stage.layers) * variant.depth_mult));
      total_blocks += stage.layers;
    }
    features_ = register_module("features", torch::nn::Sequential());
    features_->push_back(Conv2dNormActivation(
        conv_options(3, stages.front().in_channels, variant.norm).stride(2)));
    int64_t block_index = 0;
    for (const auto& stage : stages) {
      detail::Stage blocks;
      for (int64_t i = 0; i < stage.layers; ++i) {
        const BlockSetting setting{stage.fused,
                                   stage.expand_ratio,
                                   stage.kernel,
                                   i == 0 ? stage.stride : 1,
                                   i == 0 ? stage.in_channels : stage.out_channels,
                                   stage.out_channels};
        const double drop = kStochasticDepth * static_cast<double>(block_index) /
                            static_cast<double>(total_blocks);
        blocks->push_back(torch::nn::AnyModule(MBConv(setting, drop, variant.norm)));
        ++block_index;
      }
      features_->push_back(blocks);
    }
    const int64_t last_in = stages.back().out_channels;
    const int64_t last_out = variant.last_channels > 0 ? variant.last_channels : 4 * last_in;
    features_->push_back(
        Conv2dNormActivation(conv_options(last_in, last_out, variant.norm).kernel_size(1)));
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    // torchvision's `classifier` is nn.Sequential(Dropout, Linear); here a plain parent, so the
    // head at "classifier.1" can be replaced by path.
    classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Sequential"));
    dropout_ = classifier_->register_module("0", torch::nn::Dropout(variant.dropout));
    set_head("classifier.1", last_out,
             torch::nn::AnyModule(torch::nn::Linear(last_out, num_classes)));
    detail::init_convolutional(*this, init_linear);
  }

  torch::Tensor features(const torch::Tensor& images) override {
    // [N, 3, H, W]
    torch::Tensor x = run(features_, images);
    // [N, feature_dim, H / 32, W / 32]
    x = run(avgpool_, x).flatten(1);
    // [N, feature_dim]
    return x;
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*classifier_, run(dropout_, features));  // [N, num_classes]
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    init_linear(*head.as<torch::nn::Linear>());
  }

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Dropout dropout_{nullptr};
};

Classifier make(const Variant& variant, const ModelOptions& options) {
  return std::make_shared<EfficientNetImpl>(variant, options.num_classes());
}

}  // namespace

Classifier efficientnet_b0(const ModelOptions& options) {
  return make({kV1Stages, 1.0, 1.0, 0, 0.2, kTorchNorm}, options);
}

Classifier efficientnet_b1(const ModelOptions& options) {
  return make({kV1Stages, 1.0, 1.1, 0, 0.2, kTorchNorm}, options);
}

Classifier efficientnet_b2(const ModelOptions& options) {
  return make({kV1Stages, 1.1, 1.2, 0, 0.3, kTorchNorm}, options);
}

Classifier efficientnet_b3(const ModelOptions& options) {
  return make({kV1Stages, 1.2, 1.4, 0, 0.3, kTorchNorm}, options);
}

Classifier efficientnet_b4(const ModelOptions& options) {
  return make({kV1Stages, 1.4, 1.8, 0, 0.4, kTorchNorm}, options);
}

Classifier efficientnet_b5(const ModelOptions& options) {
  return make({kV1Stages, 1.6, 2.2, 0, 0.4, kTensorflowNorm}, options);
}

Classifier efficientnet_b6(const ModelOptions& options) {
  return make({kV1Stages, 1.8, 2.6, 0, 0.5, kTensorflowNorm}, options);
}

Classifier efficientnet_b7(const ModelOptions& options) {
  return make({kV1Stages, 2.0, 3.1, 0, 0.5, kTensorflowNorm}, options);
}

Classifier efficientnet_v2_s(const ModelOptions& options) {
  return make({kV2SStages, 1.0, 1.0, 1280, 0.2, kV2Norm}, options);
}

Classifier efficientnet_v2_m(const ModelOptions& options) {
  return make({kV2MStages, 1.0, 1.0, 1280, 0.3, kV2Norm}, options);
}

Classifier efficientnet_v2_l(const ModelOptions& options) {
  return make({kV2LStages, 1.0, 1.0, 1280, 0.4, kV2Norm}, options);
}

}  // namespace xfer::models

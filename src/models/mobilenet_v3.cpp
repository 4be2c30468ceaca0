// MobileNetV3 small and large (Howard et al. 2019), mirroring torchvision 0.14
// torchvision/models/mobilenetv3.py at width_mult 1.0, without reduced_tail or dilation (the
// configurations torchvision publishes weights for; every channel count below is then already a
// multiple of 8, so adjust_channels leaves it as it is).

#include "xfer/models/mobilenet_v3.h"

#include "models/detail/layers.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

#include <vector>

namespace xfer::models {
namespace {

using detail::Activation;
using detail::Conv2dNormActivation;
using detail::Conv2dNormActivationOptions;

// MobileNetV3's BatchNorm2d, as torchvision's partial(nn.BatchNorm2d, eps=0.001, momentum=0.01).
constexpr double kNormEps = 0.001;
constexpr double kNormMomentum = 0.01;
constexpr double kDropout = 0.2;

// One row of Tables 1 and 2 of the paper, torchvision's InvertedResidualConfig.
struct BlockSetting {
  int64_t in_channels;
  int64_t kernel;
  int64_t expanded_channels;
  int64_t out_channels;
  bool use_se;
  bool hardswish;
  int64_t stride;
};

const std::vector<BlockSetting> kLargeBlocks = {
    {16, 3, 16, 16, false, false, 1},  {16, 3, 64, 24, false, false, 2},
    {24, 3, 72, 24, false, false, 1},  {24, 5, 72, 40, true, false, 2},
    {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
    {40, 3, 240, 80, false, true, 2},  {80, 3, 200, 80, false, true, 1},
    {80, 3, 184, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
    {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
    {112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1},
    {160, 5, 960, 160, true, true, 1}};
constexpr int64_t kLargeLastChannels = 1280;

const std::vector<BlockSetting> kSmallBlocks = {
    {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2},
    {24, 3, 88, 24, false, false, 1}, {24, 5, 96, 40, true, true, 2},
    {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
    {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},
    {48, 5, 288, 96, true, true, 2},  {96, 5, 576, 96, true, true, 1},
    {96, 5, 576, 96, true, true, 1}};
constexpr int64_t kSmallLastChannels = 1024;

Conv2dNormActivationOptions conv_options(int64_t in_channels, int64_t out_channels) {
  return Conv2dNormActivationOptions(in_channels, out_channels)
      .eps(kNormEps)
      .momentum(kNormMomentum);
}

// torchvision's InvertedResidual (section 5 of the paper): `block` holds an expanding 1x1
// Conv2dNormActivation (when the expansion changes the width), the depthwise one, a
// SqueezeExcitation (when use_se) and the linear 1x1 projection.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const BlockSetting& setting)
      : use_residual_(setting.stride == 1 && setting.in_channels == setting.out_channels) {
    const Activation activation = setting.hardswish ? Activation::kHardswish : Activation::kReLU;
    const int64_t expanded = setting.expanded_channels;
    torch::nn::Sequential block;
    if (expanded != setting.in_channels) {
      block->push_back(Conv2dNormActivation(
          conv_options(setting.in_channels, expanded).kernel_size(1).activation(activation)));
    }
    block->push_back(Conv2dNormActivation(conv_options(expanded, expanded)
                                              .kernel_size(setting.kernel)
                                              .stride(setting.stride)
                                              .groups(expanded)
                                              .activation(activation)));
    if (setting.use_se) {
      block->push_back(
          detail::SqueezeExcitation(expanded, detail::make_divisible(expanded / 4, 8)));
    }
    block->push_back(Conv2dNormActivation(
        conv_options(expanded, setting.out_channels).kernel_size(1).activation(Activation::kNone)));
    block_ = register_module("block", block);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(block_, x);
    // [N, out, H / stride, W / stride]
    return use_residual_ ? y + x : y;
  }

 private:
  bool use_residual_;
  torch::nn::Sequential block_{nullptr};
};
TORCH_MODULE(InvertedResidual);

class MobileNetV3Impl : public ClassifierImpl {
 public:
  MobileNetV3Impl(const std::vector<BlockSetting>& blocks, int64_t last_channels,
                  int64_t num_classes)
      : last_conv_channels_(6 * blocks.back().out_channels) {
    features_ = register_module("features", torch::nn::Sequential());
    features_->push_back(Conv2dNormActivation(
        conv_options(3, blocks.front().in_channels).stride(2).activation(Activation::kHardswish)));
    for (const auto& setting : blocks) features_->push_back(InvertedResidual(setting));
    features_->push_back(
        Conv2dNormActivation(conv_options(blocks.back().out_channels, last_conv_channels_)
                                 .kernel_size(1)
                                 .activation(Activation::kHardswish)));
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    // torchvision's `classifier` is an nn.Sequential(Linear, Hardswish, Dropout, Linear); here a
    // plain parent, so the head at "classifier.3" can be replaced by path. Its first three
    // children belong to features(): the pooled features are the hidden layer's.
    classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Sequential"));
    hidden_ =
        classifier_->register_module("0", torch::nn::Linear(last_conv_channels_, last_channels));
    hidden_activation_ = classifier_->register_module("1", detail::Hardswish());
    dropout_ = classifier_->register_module("2", torch::nn::Dropout(kDropout));
    set_head("classifier.3", last_channels,
             torch::nn::AnyModule(torch::nn::Linear(last_channels, num_classes)));
    detail::init_mobilenet(*this);
  }

  torch::Tensor features(const torch::Tensor& images) override {
    // [N, 3, H, W]
    torch::Tensor x = run(features_, images);
    // [N, 576 (small) or 960 (large), H / 32, W / 32]
    x = run(avgpool_, x).flatten(1);
    // [N, 576 or 960]
    x = run(hidden_activation_, run(hidden_, x));
    // [N, 1024 (small) or 1280 (large)]
    return run(dropout_, x);
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*classifier_, features);  // [N, num_classes]
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    detail::init_mobilenet_linear(*head.as<torch::nn::Linear>());
  }

 private:
  int64_t last_conv_channels_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Linear hidden_{nullptr};
  detail::Hardswish hidden_activation_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

Classifier mobilenet_v3_small(const ModelOptions& options) {
  return std::make_shared<MobileNetV3Impl>(kSmallBlocks, kSmallLastChannels, options.num_classes());
}

Classifier mobilenet_v3_large(const ModelOptions& options) {
  return std::make_shared<MobileNetV3Impl>(kLargeBlocks, kLargeLastChannels, options.num_classes());
}

}  // namespace xfer::models

// MobileNetV2 (Sandler et al. 2018), mirroring torchvision 0.14 torchvision/models/mobilenetv2.py
// at width_mult 1.0 and round_nearest 8, the configuration torchvision publishes weights for
// (every channel count below is then already a multiple of 8).

#include "xfer/models/mobilenet_v2.h"

#include "models/detail/layers.h"

#include <torch/nn/modules/container/sequential.h>

namespace xfer::models {
namespace {

using detail::Activation;
using detail::Conv2dNormActivation;
using detail::Conv2dNormActivationOptions;

// torchvision's InvertedResidual: `conv` holds an expanding 1x1 Conv2dNormActivation (unless the
// expansion is 1), the depthwise 3x3 one, then a linear 1x1 Conv2d and its BatchNorm2d.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                       int64_t expand_ratio, bool tf_same_padding)
      : use_residual_(stride == 1 && in_channels == out_channels) {
    const int64_t hidden = in_channels * expand_ratio;
    torch::nn::Sequential conv;
    if (expand_ratio != 1) {
      conv->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(in_channels, hidden)
                                               .kernel_size(1)
                                               .activation(Activation::kReLU6)));
    }
    conv->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(hidden, hidden)
                                             .stride(stride)
                                             .groups(hidden)
                                             .activation(Activation::kReLU6)
                                             .tf_same_padding(tf_same_padding)));
    conv->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out_channels, 1).bias(false)));
    conv->push_back(torch::nn::BatchNorm2d(out_channels));
    conv_ = register_module("conv", conv);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(conv_, x);
    // [N, out, H / stride, W / stride]
    return use_residual_ ? x + y : y;
  }

 private:
  bool use_residual_;
  torch::nn::Sequential conv_{nullptr};
};
TORCH_MODULE(InvertedResidual);

// torchvision's inverted_residual_setting: expansion t, output channels c, repeats n, stride s of
// the first repeat.
struct BlockSetting {
  int64_t expand_ratio;
  int64_t channels;
  int64_t repeats;
  int64_t stride;
};
constexpr BlockSetting kBlocks[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
constexpr int64_t kStemChannels = 32;
constexpr int64_t kLastChannels = 1280;
constexpr double kDropout = 0.2;

class MobileNetV2Impl : public detail::PooledMobileNetImpl {
 public:
  MobileNetV2Impl(int64_t num_classes, bool tf_same_padding) {
    features_->push_back(Conv2dNormActivation(
        Conv2dNormActivationOptions(3, kStemChannels)
            .stride(2)
            .activation(Activation::kReLU6)
            .tf_same_padding(tf_same_padding)));
    int64_t channels = kStemChannels;
    for (const auto& block : kBlocks) {
      for (int64_t i = 0; i < block.repeats; ++i) {
        features_->push_back(InvertedResidual(channels, block.channels, i == 0 ? block.stride : 1,
                                              block.expand_ratio, tf_same_padding));
        channels = block.channels;
      }
    }
    features_->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(channels, kLastChannels)
                                                  .kernel_size(1)
                                                  .activation(Activation::kReLU6)));
    add_classifier(kLastChannels, num_classes, kDropout);
  }
};

}  // namespace

Classifier mobilenet_v2(const ModelOptions& options) {
  return std::make_shared<MobileNetV2Impl>(options.num_classes(), options.tf_same_padding());
}

}  // namespace xfer::models

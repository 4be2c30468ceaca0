// MobileNetV1 (Howard et al. 2017), ours: torchvision has none. The architecture is the one of
// TF-slim's mobilenet_v1.py, which the Coral `mobilenet_v1_*_quant.tflite` models implement, with
// the children laid out as torchvision lays out its MobileNets (Conv2dNormActivation blocks of
// torchvision/ops/misc.py), so that a state_dict reads like theirs.
//
// Keys, for width multiplier w (every channel count below times w):
//   features.0.0.weight        [32, 3, 3, 3]        conv 3x3, stride 2, padding 1, no bias
//   features.0.1.*             BatchNorm2d(32): weight, bias, running_mean, running_var,
//                              num_batches_tracked (int64, [])
//   features.0.2               ReLU6 (no tensors)
//   features.k.0.0.weight      [C_in, 1, 3, 3]      depthwise conv 3x3, stride s_k, padding 1,
//                                                   groups C_in, no bias         (k = 1 .. 13)
//   features.k.0.1.*           BatchNorm2d(C_in)
//   features.k.0.2             ReLU6
//   features.k.1.0.weight      [C_out, C_in, 1, 1]  pointwise conv, no bias
//   features.k.1.1.*           BatchNorm2d(C_out)
//   features.k.1.2             ReLU6
//   classifier.0               Dropout(p=0.001), TF-slim's dropout_keep_prob 0.999
//   classifier.1.weight        [num_classes, 1024]  the head (a Linear; TF's 1x1 Logits conv)
//   classifier.1.bias          [num_classes]
// where C_out for k = 1 .. 13 is 64, 128, 128, 256, 256, 512 (x6), 1024, 1024, C_in is the
// previous block's C_out (32 for k = 1), and s_k is 2 for k = 2, 4, 6, 12 and 1 otherwise.
// After features.13 a global average pool (functional, no module) gives [N, 1024 w].
// TF-slim's scopes map as: Conv2d_0 → features.0, Conv2d_k_depthwise → features.k.0,
// Conv2d_k_pointwise → features.k.1, Logits/Conv2d_1c_1x1 → classifier.1.
//
// Padding is PyTorch's symmetric 1 for every 3x3, or TF's SAME (0 before and 1 after on the
// stride-2 convolutions) with ModelOptions::tf_same_padding, as the TFLite weights need.
// BatchNorm eps is TF-slim's 0.001;
// momentum stays PyTorch's 0.1 (TF-slim's decay 0.9997 is meant for training from scratch over
// millions of steps, not for adapting statistics while fine-tuning). Initialisation is
// torchvision's MobileNetV2 one.

#include "xfer/models/mobilenet_v1.h"

#include "xfer/core/error.h"

#include "models/detail/layers.h"

#include <torch/nn/modules/container/sequential.h>

#include <array>
#include <sstream>

namespace xfer::models {
namespace {

using detail::Activation;
using detail::Conv2dNormActivation;
using detail::Conv2dNormActivationOptions;

constexpr double kNormEps = 0.001;
constexpr double kDropout = 0.001;
constexpr int64_t kStemChannels = 32;
constexpr std::array<double, 4> kWidths = {0.25, 0.5, 0.75, 1.0};

// TF-slim's MOBILENETV1_CONV_DEFS after the stem: output channels and stride of each
// depthwise-separable block.
struct BlockSetting {
  int64_t channels;
  int64_t stride;
};
constexpr BlockSetting kBlocks[] = {{64, 1},  {128, 2},  {128, 1}, {256, 2}, {256, 1},
                                    {512, 2}, {512, 1},  {512, 1}, {512, 1}, {512, 1},
                                    {512, 1}, {1024, 2}, {1024, 1}};
constexpr int64_t kLastChannels = 1024;

Conv2dNormActivationOptions conv_options(int64_t in_channels, int64_t out_channels,
                                         bool tf_same_padding) {
  return Conv2dNormActivationOptions(in_channels, out_channels)
      .eps(kNormEps)
      .activation(Activation::kReLU6)
      .tf_same_padding(tf_same_padding);
}

// One depthwise-separable block: the depthwise Conv2dNormActivation "0", the pointwise one "1".
class DepthwiseSeparableImpl : public torch::nn::Module {
 public:
  DepthwiseSeparableImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                         bool tf_same_padding) {
    depthwise_ = register_module(
        "0", Conv2dNormActivation(
                 conv_options(in_channels, in_channels, tf_same_padding)
                     .stride(stride)
                     .groups(in_channels)));
    pointwise_ = register_module(
        "1", Conv2dNormActivation(
                 conv_options(in_channels, out_channels, tf_same_padding).kernel_size(1)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(depthwise_, x);
    // [N, in, H / stride, W / stride]
    return run(pointwise_, y);
  }

 private:
  Conv2dNormActivation depthwise_{nullptr};
  Conv2dNormActivation pointwise_{nullptr};
};
TORCH_MODULE(DepthwiseSeparable);

// TF-slim's depth(): channels times the width multiplier, truncated (at least 8 for every allowed
// width, so TF-slim's min_depth never applies).
int64_t scaled(int64_t channels, double width_mult) {
  return static_cast<int64_t>(static_cast<double>(channels) * width_mult);
}

class MobileNetV1Impl : public detail::PooledMobileNetImpl {
 public:
  MobileNetV1Impl(double width_mult, int64_t num_classes, bool tf_same_padding) {
    int64_t channels = scaled(kStemChannels, width_mult);
    features_->push_back(
        Conv2dNormActivation(conv_options(3, channels, tf_same_padding).stride(2)));
    for (const auto& block : kBlocks) {
      const int64_t out_channels = scaled(block.channels, width_mult);
      features_->push_back(
          DepthwiseSeparable(channels, out_channels, block.stride, tf_same_padding));
      channels = out_channels;
    }
    add_classifier(channels, num_classes, kDropout);
  }
};

}  // namespace

Classifier mobilenet_v1(const ModelOptions& options) {
  const double width_mult = options.width_mult();
  bool allowed = false;
  for (const double width : kWidths) allowed = allowed || width == width_mult;
  if (!allowed) {
    std::ostringstream message;
    message << "mobilenet_v1: width_mult: expected one of 0.25, 0.5, 0.75, 1.0, got " << width_mult;
    throw InvalidArgument(message.str());
  }
  return std::make_shared<MobileNetV1Impl>(width_mult, options.num_classes(),
                                           options.tf_same_padding());
}

}  // namespace xfer::models

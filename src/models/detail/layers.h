#pragma once
// Building blocks shared by the zoo's mobile architectures, mirroring torchvision 0.14
// torchvision/ops/misc.py (Conv2dNormActivation, SqueezeExcitation),
// torchvision/ops/stochastic_depth.py and torchvision/models/_utils.py (_make_divisible), and the
// weight initialisations of torchvision/models/{mobilenetv2,mobilenetv3,googlenet}.py.

#include "xfer/models/classifier.h"

#include <ATen/TracerMode.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <functional>
#include <string>
#include <vector>

namespace xfer::models::detail {

/// torchvision's _make_divisible: `value` rounded to the nearest multiple of `divisor` (at least
/// `divisor`), moved up by one `divisor` when rounding lost more than 10% of `value`.
int64_t make_divisible(double value, int64_t divisor);

/// torch.nn.Hardswish: x * relu6(x + 3) / 6, elementwise, any shape; not in place.
class HardswishImpl : public torch::nn::Module {
 public:
  /// Elementwise hard swish of `x` (any shape, floating point).
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Hardswish);

/// torch.nn.Hardsigmoid: relu6(x + 3) / 6, elementwise, any shape; not in place.
class HardsigmoidImpl : public torch::nn::Module {
 public:
  /// Elementwise hard sigmoid of `x` (any shape, floating point).
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(Hardsigmoid);

/// The activation of a Conv2dNormActivation, torchvision's `activation_layer`.
enum class Activation { kNone, kReLU, kReLU6, kHardswish, kSiLU, kGELU };

/// The module torchvision builds for `activation` (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU,
/// nn.GELU), or an empty AnyModule for kNone.
torch::nn::AnyModule make_activation(Activation activation);

/// Configuration of a Conv2dNormActivation; the defaults are torchvision's.
struct Conv2dNormActivationOptions {
  /// A 3x3 stride-1 convolution from `in_channels` to `out_channels`, then BatchNorm2d and ReLU.
  Conv2dNormActivationOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  /// Channels of the input.
  TORCH_ARG(int64_t, in_channels);
  /// Channels of the output.
  TORCH_ARG(int64_t, out_channels);
  /// Square kernel side; the padding is (kernel_size - 1) / 2 on every side, as torchvision's.
  TORCH_ARG(int64_t, kernel_size) = 3;
  /// Stride of the convolution.
  TORCH_ARG(int64_t, stride) = 1;
  /// Groups of the convolution; in_channels for a depthwise convolution.
  TORCH_ARG(int64_t, groups) = 1;
  /// What follows the normalisation; kNone registers no child "2".
  TORCH_ARG(Activation, activation) = Activation::kReLU;
  /// BatchNorm2d's eps.
  TORCH_ARG(double, eps) = 1e-5;
  /// BatchNorm2d's momentum.
  TORCH_ARG(double, momentum) = 0.1;
  /// Pad as TensorFlow's SAME instead: a total of max((ceil(H / stride) - 1) * stride +
  /// kernel_size - H, 0) per dimension, the smaller half before (0 before and 1 after for a 3x3
  /// stride-2 convolution on an even size), computed for each input; the Conv2d then pads nothing.
  /// What weights imported from TFLite need.
  TORCH_ARG(bool, tf_same_padding) = false;
};

/// torchvision's Conv2dNormActivation: a bias-free Conv2d "0", a BatchNorm2d "1" and, unless the
/// activation is kNone, the activation module "2" (ReLU, ReLU6, Hardswish, SiLU or GELU), so that
/// the keys are `0.weight`, `1.weight`, `1.bias`, `1.running_mean`, `1.running_var`,
/// `1.num_batches_tracked`. Each child runs through run(), so each can be tapped.
class Conv2dNormActivationImpl : public torch::nn::Module {
 public:
  /// Builds the block; the convolution is initialised as LibTorch's default (torchvision's models
  /// re-initialise it afterwards).
  explicit Conv2dNormActivationImpl(const Conv2dNormActivationOptions& options);
  /// [N, in_channels, H, W] float32 → [N, out_channels, ceil(H / stride), ceil(W / stride)].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d norm_{nullptr};
  torch::nn::AnyModule activation_;
  bool tf_same_padding_ = false;
};
TORCH_MODULE(Conv2dNormActivation);

/// torchvision's BasicConv2d (GoogLeNet, Inception v3): a bias-free Conv2d `conv`, BatchNorm2d
/// `bn` with eps 1e-3, then a ReLU that is functional and out of place (torchvision's is in
/// place), so that a tapped `bn` keeps its own output.
class BasicConv2dImpl : public torch::nn::Module {
 public:
  /// `in` to `out` channels with `kernel` (one side or {height, width}), `stride` and `padding`
  /// (one side or {height, width}).
  BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, int64_t stride = 1,
                  torch::ExpandingArray<2> padding = 0);
  /// [N, in, H, W] float32 → [N, out, H', W'].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(BasicConv2d);

/// torchvision's _transform_input (GoogLeNet and Inception v3 with `transform_input`): images
/// [N, 3, H, W] normalised with ImageNet's mean and std, renormalised channel by channel to
/// (x - 0.5) / 0.5, what Google's weights were trained on.
torch::Tensor imagenet_to_inception_input(const torch::Tensor& images);

/// How a SqueezeExcitation squashes its scale: MobileNetV3's Hardsigmoid or EfficientNet's
/// Sigmoid (torchvision's `scale_activation`).
enum class ScaleActivation { kHardsigmoid, kSigmoid };

/// torchvision's SqueezeExcitation: `avgpool` (AdaptiveAvgPool2d(1)), `fc1` and `fc2` (1x1 Conv2d
/// with bias), `activation` (MobileNetV3: ReLU; EfficientNet: SiLU) and `scale_activation`
/// (Hardsigmoid or Sigmoid); the input scaled channelwise by
/// scale_activation(fc2(activation(fc1(avgpool(x))))).
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  /// Squeezes `input_channels` to `squeeze_channels` and back.
  SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels,
                        Activation activation = Activation::kReLU,
                        ScaleActivation scale = ScaleActivation::kHardsigmoid);
  /// [N, input_channels, H, W] float32 → the same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Conv2d fc1_{nullptr};
  torch::nn::Conv2d fc2_{nullptr};
  torch::nn::AnyModule activation_;
  torch::nn::AnyModule scale_activation_;
};
TORCH_MODULE(SqueezeExcitation);

/// nn.LayerNorm(channels, eps) over the last dimension (`weight`, `bias` [C]). The input is first
/// brought to the weight's dtype: under CPU autocast a convolution or matmul hands it bf16, and
/// LibTorch 1.13's layer_norm refuses bf16 input with fp32 weights (torchvision's ConvNeXt fails
/// there in Python too); autocast's next matmul takes it back to bf16.
class LayerNormImpl : public torch::nn::Module {
 public:
  /// Normalises over `channels` with `eps`; weight 1 and bias 0, as nn.LayerNorm starts.
  LayerNormImpl(int64_t channels, double eps);
  /// [..., channels] float32 or bf16 → the same shape in the weight's dtype.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor weight_;
  torch::Tensor bias_;
  double eps_;
};
TORCH_MODULE(LayerNorm);

/// torchvision.ops.misc.Permute: the dimensions of its input reordered (a view).
class PermuteImpl : public torch::nn::Module {
 public:
  /// Puts input dimension dims[i] at position i.
  explicit PermuteImpl(std::vector<int64_t> dims);
  /// x.permute(dims), any tensor of dims.size() dimensions.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<int64_t> dims_;
};
TORCH_MODULE(Permute);

/// torchvision.ops.StochasticDepth in "row" mode: in training, each sample's input is zeroed with
/// probability `p` and the others are scaled by 1 / (1 - p); identity in eval mode or for p = 0.
class StochasticDepthImpl : public torch::nn::Module {
 public:
  /// Drops rows with probability `p` in [0, 1].
  explicit StochasticDepthImpl(double p);
  /// [N, ...] → the same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double p_;
};
TORCH_MODULE(StochasticDepth);

/// A module whose children "0", "1", ... (or names of their own) run one after the other, each
/// through run(): what an nn.Sequential nested inside another is in torchvision (an EfficientNet
/// stage inside `features`, a RegNet stage inside `trunk_output`), which LibTorch's Sequential
/// cannot hold.
class StageImpl : public torch::nn::Module {
 public:
  /// Registers `block` as the next child, named by its index.
  void push_back(torch::nn::AnyModule block);
  /// Registers `block` as the next child, named `name` (RegNet's "block1-0").
  void push_back(const std::string& name, torch::nn::AnyModule block);
  /// Runs the children in order on `x`.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<torch::nn::AnyModule> blocks_;
};
TORCH_MODULE(Stage);

/// What `make` returns, computed without being recorded by an active trace: a tensor a forward
/// pass computes from weights alone or from the input's size alone (a position bias, an attention
/// mask) then enters an exported graph as a constant, no converter needed; autograd still sees it.
template <typename Make>
torch::Tensor untraced(const Make& make) {
  at::tracer::impl::NoTracerDispatchMode untraced;
  return make();
}

/// [window^2, window^2] int64: for tokens i = (yi, xi) and j = (yj, xj) of a square window (token
/// y * window + x), (yi - yj + window - 1) * (2 window - 1) + xi - xj + window - 1, the row of
/// torchvision's relative position bias table (Swin, MaxViT) that holds the pair's bias.
torch::Tensor relative_position_index(int64_t window);

/// The bias [1, heads, tokens, tokens] that `table` [rows, heads] gives each pair of a window's
/// `tokens` tokens through `index` (relative_position_index, of any shape).
torch::Tensor relative_position_bias(const torch::Tensor& table, const torch::Tensor& index,
                                     int64_t tokens);

/// torch.nn.init.trunc_normal_: fills `tensor` in place from the normal distribution (mean, std)
/// truncated to [a, b], by the inverse-CDF method with the same tensor operations as PyTorch,
/// except that a uniform draw of exactly -1 (one in 2^24 when a lies many std below the mean)
/// becomes the next float up: PyTorch's erfinv gives -inf there and the clamp puts the weight at
/// `a`, 200 std out for torchvision's std 0.01 within [-2, 2].
void trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b);

/// The weight initialisation torchvision's MobileNetV2, MobileNetV3 and EfficientNet share,
/// applied to every module under `root` (not `root` itself, so a constructor may call it), in
/// named_modules() order: Conv2d kaiming_normal_ (fan_out, gain sqrt(2)) with zero bias,
/// BatchNorm2d weight 1 and bias 0, and each Linear by `init_linear`.
void init_convolutional(torch::nn::Module& root,
                        const std::function<void(torch::nn::LinearImpl&)>& init_linear);

/// init_convolutional with the MobileNets' Linear: normal(0, 0.01) with zero bias.
void init_mobilenet(torch::nn::Module& root);

/// A Linear head initialised as init_mobilenet() initialises a Linear.
void init_mobilenet_linear(torch::nn::LinearImpl& linear);

/// The shape MobileNetV1 and V2 share: `features` (a Sequential of conv blocks), global average
/// pooling, and `classifier` = {"0": Dropout, "1": Linear head}, initialised as torchvision's
/// MobileNets. torchvision's `classifier` is an nn.Sequential; here it is a plain parent, so the head
/// at "classifier.1" can be replaced by path.
class PooledMobileNetImpl : public ClassifierImpl {
 public:
  /// [N,3,H,W] → [N, channels of the last block].
  torch::Tensor features(const torch::Tensor& images) override;
  /// [N, feature_dim] → dropout → head → [N, num_classes].
  torch::Tensor classify(const torch::Tensor& features) override;

 protected:
  /// Registers the empty `features` first, so its keys come first as in torchvision.
  PooledMobileNetImpl();
  /// After the blocks are in `features_`: registers `classifier` (Dropout(dropout), then a
  /// Linear(channels, num_classes) head) and initialises every parameter.
  void add_classifier(int64_t channels, int64_t num_classes, double dropout);
  void init_head(torch::nn::Module& head) override;

  /// The conv blocks; derived classes push theirs in their constructor.
  torch::nn::Sequential features_{nullptr};

 private:
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace xfer::models::detail

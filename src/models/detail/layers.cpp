#include "models/detail/layers.h"

#include "xfer/models/taps.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace xfer::models::detail {

int64_t make_divisible(double value, int64_t divisor) {
  const auto rounded =
      static_cast<int64_t>(value + static_cast<double>(divisor) / 2) / divisor * divisor;
  int64_t result = std::max(divisor, rounded);
  if (static_cast<double>(result) < 0.9 * value) result += divisor;
  return result;
}

torch::Tensor HardswishImpl::forward(const torch::Tensor& x) { return torch::hardswish(x); }

torch::Tensor HardsigmoidImpl::forward(const torch::Tensor& x) { return torch::hardsigmoid(x); }

torch::nn::AnyModule make_activation(Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return {};
    case Activation::kReLU:
      return torch::nn::AnyModule(torch::nn::ReLU());
    case Activation::kReLU6:
      return torch::nn::AnyModule(torch::nn::ReLU6());
    case Activation::kHardswish:
      return torch::nn::AnyModule(Hardswish());
    case Activation::kSiLU:
      return torch::nn::AnyModule(torch::nn::SiLU());
    case Activation::kGELU:
      return torch::nn::AnyModule(torch::nn::GELU());
  }
  return {};
}

Conv2dNormActivationImpl::Conv2dNormActivationImpl(const Conv2dNormActivationOptions& options) {
  tf_same_padding_ = options.tf_same_padding();
  conv_ = register_module(
      "0", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), options.out_channels(),
                                                      options.kernel_size())
                                 .stride(options.stride())
                                 .padding(options.tf_same_padding() ? 0 : (options.kernel_size() - 1) / 2)
                                 .groups(options.groups())
                                 .bias(false)));
  norm_ = register_module(
      "1", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(options.out_channels())
                                      .eps(options.eps())
                                      .momentum(options.momentum())));
  activation_ = make_activation(options.activation());
  if (!activation_.is_empty()) register_module("2", activation_.ptr());
}

// TensorFlow's SAME padding of `x` [N, C, H, W] for a convolution with this kernel and stride:
// the total padding of each dimension, its smaller half before.
torch::Tensor tf_same_pad(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  auto total = [&](int64_t size) {
    return std::max<int64_t>(((size + stride - 1) / stride - 1) * stride + kernel - size, 0);
  };
  const int64_t rows = total(x.size(2));
  const int64_t cols = total(x.size(3));
  if (rows == 0 && cols == 0) return x;
  return torch::constant_pad_nd(x, {cols / 2, cols - cols / 2, rows / 2, rows - rows / 2});
}

torch::Tensor Conv2dNormActivationImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = tf_same_padding_ ? run(conv_, tf_same_pad(x, (*conv_->options.kernel_size())[0],
                                                              (*conv_->options.stride())[0]))
                                     : run(conv_, x);
  // [N, out, H / stride, W / stride]
  y = run(norm_, y);
  if (!activation_.is_empty()) y = run(activation_, y);
  return y;
}

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels,
                                             Activation activation, ScaleActivation scale) {
  avgpool_ = register_module("avgpool",
                             torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
  fc1_ = register_module(
      "fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(input_channels, squeeze_channels, 1)));
  fc2_ = register_module(
      "fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, input_channels, 1)));
  activation_ = make_activation(activation);
  register_module("activation", activation_.ptr());
  scale_activation_ = scale == ScaleActivation::kSigmoid ? torch::nn::AnyModule(torch::nn::Sigmoid())
                                                         : torch::nn::AnyModule(Hardsigmoid());
  register_module("scale_activation", scale_activation_.ptr());
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  torch::Tensor scale = run(avgpool_, x);
  // [N, C, 1, 1]
  scale = run(fc1_, scale);
  // [N, squeeze, 1, 1]
  scale = run(activation_, scale);
  scale = run(fc2_, scale);
  // [N, C, 1, 1]
  scale = run(scale_activation_, scale);
  // [N, C, 1, 1] in [0, 1], broadcast over [N, C, H, W]
  return scale * x;
}

StochasticDepthImpl::StochasticDepthImpl(double p) : p_(p) {}

torch::Tensor StochasticDepthImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  const double survival = 1.0 - p_;
  std::vector<int64_t> size(static_cast<size_t>(x.dim()), 1);
  size[0] = x.size(0);
  torch::Tensor noise = torch::empty(size, x.options()).bernoulli_(survival);
  // [N, 1, 1, 1]
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

LayerNormImpl::LayerNormImpl(int64_t channels, double eps)
    : weight_(register_parameter("weight", torch::ones({channels}))),
      bias_(register_parameter("bias", torch::zeros({channels}))),
      eps_(eps) {}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor input = x.scalar_type() == weight_.scalar_type() ? x : x.to(weight_.dtype());
  return at::layer_norm(input, {weight_.size(0)}, weight_, bias_, eps_);
}

PermuteImpl::PermuteImpl(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

torch::Tensor PermuteImpl::forward(const torch::Tensor& x) { return x.permute(dims_); }

void StageImpl::push_back(torch::nn::AnyModule block) {
  push_back(std::to_string(blocks_.size()), std::move(block));
}

void StageImpl::push_back(const std::string& name, torch::nn::AnyModule block) {
  register_module(name, block.ptr());
  blocks_.push_back(std::move(block));
}

torch::Tensor StageImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x;
  for (auto& block : blocks_) y = run(block, y);
  return y;
}

BasicConv2dImpl::BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                                 int64_t stride, torch::ExpandingArray<2> padding) {
  conv_ = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  bn_ = register_module("bn",
                        torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(0.001)));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) {
  return torch::relu(run(bn_, run(conv_, x)));
}

torch::Tensor imagenet_to_inception_input(const torch::Tensor& images) {
  const auto channel0 = images.select(1, 0).unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5;
  const auto channel1 = images.select(1, 1).unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5;
  const auto channel2 = images.select(1, 2).unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5;
  return torch::cat({channel0, channel1, channel2}, 1);  // [N, 3, H, W]
}

torch::Tensor relative_position_index(int64_t window) {
  const torch::Tensor coords = torch::arange(window);
  const torch::Tensor y = coords.repeat_interleave(window);  // [window^2]
  const torch::Tensor x = coords.repeat({window});            // [window^2]
  const torch::Tensor dy = y.unsqueeze(1) - y.unsqueeze(0) + (window - 1);
  const torch::Tensor dx = x.unsqueeze(1) - x.unsqueeze(0) + (window - 1);
  return dy * (2 * window - 1) + dx;
}

torch::Tensor relative_position_bias(const torch::Tensor& table, const torch::Tensor& index,
                                     int64_t tokens) {
  return table.index_select(0, index.flatten())
      .view({tokens, tokens, -1})
      .permute({2, 0, 1})
      .contiguous()
      .unsqueeze(0);
}

void trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  const auto normal_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double lower = normal_cdf((a - mean) / std);
  const double upper = normal_cdf((b - mean) / std);
  tensor.uniform_(2 * lower - 1, 2 * upper - 1);
  // uniform_ draws from [from, to): `from` is -1 whenever `a` lies far below the mean, and
  // erfinv(-1) = -inf. 1 - 2^-24 is the float next to 1, so the draw stays strictly inside.
  const double inside = 1.0 - std::ldexp(1.0, -24);
  tensor.clamp_(-inside, inside);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.add_(mean);
  tensor.clamp_(a, b);
}

void init_mobilenet_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear.weight, 0, 0.01);
  torch::nn::init::zeros_(linear.bias);
}

void init_mobilenet(torch::nn::Module& root) { init_convolutional(root, init_mobilenet_linear); }

void init_convolutional(torch::nn::Module& root,
                        const std::function<void(torch::nn::LinearImpl&)>& init_linear) {
  torch::NoGradGuard no_grad;
  for (const auto& module : root.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    } else if (auto* norm = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(norm->weight);
      torch::nn::init::zeros_(norm->bias);
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      init_linear(*linear);
    }
  }
}

PooledMobileNetImpl::PooledMobileNetImpl() {
  features_ = register_module("features", torch::nn::Sequential());
}

void PooledMobileNetImpl::add_classifier(int64_t channels, int64_t num_classes, double dropout) {
  classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Sequential"));
  dropout_ = classifier_->register_module("0", torch::nn::Dropout(dropout));
  set_head("classifier.1", channels, torch::nn::AnyModule(torch::nn::Linear(channels, num_classes)));
  init_mobilenet(*this);
}

torch::Tensor PooledMobileNetImpl::features(const torch::Tensor& images) {
  // [N, 3, H, W]
  torch::Tensor x = run(features_, images);
  // [N, C, H / 32, W / 32]
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  // [N, C]
  return x;
}

torch::Tensor PooledMobileNetImpl::classify(const torch::Tensor& features) {
  torch::Tensor logits = run_head(run(dropout_, features));
  // [N, num_classes]
  record(classifier_.get(), logits);
  return logits;
}

void PooledMobileNetImpl::init_head(torch::nn::Module& head) {
  init_mobilenet_linear(*head.as<torch::nn::Linear>());
}

}  // namespace xfer::models::detail

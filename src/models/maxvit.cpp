// MaxViT-T, mirroring torchvision 0.14 torchvision/models/maxvit.py: the same children,
// parameters and buffers under the same names, in the same order, initialised with the same draws
// in the same order. torchvision builds the model for one input size and derives each layer's
// partitions from it; here they are derived from each input, which gives the same partitions for
// the size torchvision was built for. The relative position bias is computed outside any trace
// (detail::untraced), so an export holds it as a constant.

#include "xfer/models/maxvit.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"
#include "xfer/models/taps.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>
#include <cmath>
#include <string>

namespace xfer::models {
namespace {

constexpr int64_t kStemChannels = 64;
constexpr std::array<int64_t, 4> kBlockChannels{64, 128, 256, 512};
constexpr std::array<int64_t, 4> kBlockLayers{2, 2, 5, 2};
constexpr int64_t kPartition = 7;  // tokens per side of a window, and windows per side of the grid
constexpr int64_t kHeadDim = 32;
constexpr double kStochasticDepth = 0.2;  // at the last layer, growing linearly from 0 at the first
constexpr int64_t kExpansion = 4;         // MBConv's hidden channels per output channel
constexpr double kSqueezeRatio = 0.25;
constexpr int64_t kMlpRatio = 4;
constexpr double kBatchNormEps = 1e-3;
constexpr double kBatchNormMomentum = 0.99;  // PyTorch's sense: the batch statistics weigh 0.99
constexpr double kLayerNormEps = 1e-5;

detail::Conv2dNormActivationOptions conv_norm_gelu(int64_t in, int64_t out, int64_t kernel) {
  return detail::Conv2dNormActivationOptions(in, out)
      .kernel_size(kernel)
      .activation(detail::Activation::kGELU)
      .eps(kBatchNormEps)
      .momentum(kBatchNormMomentum);
}

// torchvision's MBConv: proj(x) + stochastic_depth(layers(x)), where `proj` is nothing, or for a
// block's first layer a 3x3 stride-2 average pool and a 1x1 convolution to the new width, and
// `layers` = pre_norm (BatchNorm), conv_a (1x1 to 4 x out), conv_b (3x3 depthwise, strided),
// squeeze_excitation (to out / 4, SiLU, sigmoid) and conv_c (1x1 to out).
class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(int64_t in, int64_t out, int64_t stride, double drop) {
    proj_ = register_module("proj", detail::Stage());
    if (stride != 1 || in != out) {
      if (stride == 2) {
        proj_->push_back(torch::nn::AnyModule(torch::nn::AvgPool2d(
            torch::nn::AvgPool2dOptions(3).stride(stride).padding(1))));
      }
      proj_->push_back(
          torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1))));
    }
    const int64_t mid = out * kExpansion;
    const auto squeezed = static_cast<int64_t>(static_cast<double>(out) * kSqueezeRatio);
    stochastic_depth_ = register_module("stochastic_depth", detail::StochasticDepth(drop));
    layers_ = register_module("layers", detail::Stage());
    layers_->push_back("pre_norm",
                       torch::nn::AnyModule(torch::nn::BatchNorm2d(
                           torch::nn::BatchNorm2dOptions(in).eps(kBatchNormEps).momentum(
                               kBatchNormMomentum))));
    layers_->push_back("conv_a", torch::nn::AnyModule(
                                     detail::Conv2dNormActivation(conv_norm_gelu(in, mid, 1))));
    layers_->push_back("conv_b", torch::nn::AnyModule(detail::Conv2dNormActivation(
                                     conv_norm_gelu(mid, mid, 3).stride(stride).groups(mid))));
    layers_->push_back("squeeze_excitation",
                       torch::nn::AnyModule(detail::SqueezeExcitation(
                           mid, squeezed, detail::Activation::kSiLU,
                           detail::ScaleActivation::kSigmoid)));
    layers_->push_back("conv_c", torch::nn::AnyModule(
                                     torch::nn::Conv2d(torch::nn::Conv2dOptions(mid, out, 1))));
  }

  // [N, in, H, W] → [N, out, H / stride, W / stride].
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor residual = run(proj_, x);
    return residual + run(stochastic_depth_, run(layers_, x));
  }

 private:
  detail::Stage proj_{nullptr};
  detail::StochasticDepth stochastic_depth_{nullptr};
  detail::Stage layers_{nullptr};
};
TORCH_MODULE(MBConv);

// torchvision's RelativePositionalMultiHeadAttention over [N, G, 49, C]: heads of 32 channels,
// keys scaled by C^-0.5 (torchvision's choice: the width, not the head's), and a learned bias per
// relative offset within the 7 x 7 partition.
class RelativeAttentionImpl : public torch::nn::Module {
 public:
  explicit RelativeAttentionImpl(int64_t channels)
      : heads_(channels / kHeadDim), scale_(std::pow(static_cast<double>(channels), -0.5)) {
    to_qkv_ = register_module("to_qkv", torch::nn::Linear(channels, 3 * channels));
    merge_ = register_module("merge", torch::nn::Linear(channels, channels));
    bias_table_ = register_parameter(
        "relative_position_bias_table",
        torch::empty({(2 * kPartition - 1) * (2 * kPartition - 1), heads_}));
    index_ =
        register_buffer("relative_position_index", detail::relative_position_index(kPartition));
    detail::trunc_normal_(bias_table_, 0, 0.02, -2, 2);
  }

  // [N, G, P, C] → [N, G, P, C].
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t groups = x.size(1);
    const int64_t tokens = x.size(2);
    const int64_t channels = x.size(3);
    const torch::Tensor qkv = run(to_qkv_, x);  // [N, G, P, 3C]
    // One third of qkv as [N, G, heads, P, 32]; the batch left to -1 for an exported graph.
    const auto split = [&](int64_t third) {
      return qkv.narrow(-1, third * channels, channels)
          .reshape({-1, groups, tokens, heads_, kHeadDim})
          .permute({0, 1, 3, 2, 4});
    };
    const torch::Tensor bias = detail::untraced(
        [&] { return detail::relative_position_bias(bias_table_, index_, tokens); });
    const torch::Tensor attention =
        torch::softmax(split(0).matmul((split(1) * scale_).transpose(-2, -1)) + bias, -1);
    // [N, G, heads, P, P]
    const torch::Tensor out =
        attention.matmul(split(2)).permute({0, 1, 3, 2, 4}).reshape({-1, groups, tokens, channels});
    return run(merge_, out);
  }

 private:
  int64_t heads_;
  double scale_;
  torch::nn::Linear to_qkv_{nullptr};
  torch::nn::Linear merge_{nullptr};
  torch::Tensor bias_table_;  // [169, heads]
  torch::Tensor index_;       // [49, 49] int64
};
TORCH_MODULE(RelativeAttention);

// torchvision's WindowPartition: [N, C, H, W] → [N, (H / ph)(W / pw), ph pw, C], the partitions of
// ph x pw pixels in row-major order.
class WindowPartitionImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x, int64_t ph, int64_t pw) {
    const int64_t channels = x.size(1);
    const int64_t gh = x.size(2) / ph;
    const int64_t gw = x.size(3) / pw;
    return x.reshape({-1, channels, gh, ph, gw, pw})
        .permute({0, 2, 4, 3, 5, 1})
        .reshape({-1, gh * gw, ph * pw, channels});
  }
};
TORCH_MODULE(WindowPartition);

// torchvision's WindowDepartition: the inverse, [N, gh gw, ph pw, C] → [N, C, gh ph, gw pw].
class WindowDepartitionImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x, int64_t ph, int64_t pw, int64_t gh, int64_t gw) {
    const int64_t channels = x.size(3);
    return x.reshape({-1, gh, gw, ph, pw, channels})
        .permute({0, 5, 1, 3, 2, 4})
        .reshape({-1, channels, gh * ph, gw * pw});
  }
};
TORCH_MODULE(WindowDepartition);

// torchvision's SwapAxes(-2, -3): partitions and their pixels trade places.
class SwapAxesImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return x.transpose(-2, -3); }
};
TORCH_MODULE(SwapAxes);

// torchvision's PartitionAttentionLayer: attention among the 7 x 7 pixels of each window
// ("window"), or among the 7 x 7 pixels spaced H/7 and W/7 apart across the whole grid ("grid"),
// each a pre-norm attention and MLP with residuals, on [N, C, H, W].
class PartitionAttentionImpl : public torch::nn::Module {
 public:
  PartitionAttentionImpl(int64_t channels, bool grid, double drop) : grid_(grid) {
    partition_op_ = register_module("partition_op", WindowPartition());
    departition_op_ = register_module("departition_op", WindowDepartition());
    partition_swap_ = swap_or_identity("partition_swap");
    departition_swap_ = swap_or_identity("departition_swap");
    attn_layer_ = register_module(
        "attn_layer",
        torch::nn::Sequential(detail::LayerNorm(channels, kLayerNormEps),
                              RelativeAttention(channels), torch::nn::Dropout(0.0)));
    mlp_layer_ = register_module(
        "mlp_layer", torch::nn::Sequential(detail::LayerNorm(channels, kLayerNormEps),
                                           torch::nn::Linear(channels, channels * kMlpRatio),
                                           torch::nn::GELU(),
                                           torch::nn::Linear(channels * kMlpRatio, channels),
                                           torch::nn::Dropout(0.0)));
    stochastic_dropout_ = register_module("stochastic_dropout", detail::StochasticDepth(drop));
  }

  // [N, C, H, W] → [N, C, H, W], H and W multiples of 7.
  torch::Tensor forward(const torch::Tensor& input) {
    const int64_t height = input.size(2);
    const int64_t width = input.size(3);
    if (height % kPartition != 0 || width % kPartition != 0) {
      throw InvalidArgument("maxvit_t: expected every block's grid to divide into 7 x 7 "
                            "partitions (image sides a multiple of 224), got a grid of " +
                            std::to_string(height) + "x" + std::to_string(width));
    }
    // A window is 7 x 7 neighbours; the grid's partition takes every (H/7)-th row and (W/7)-th
    // column, so that after the swap each group of 7 x 7 pixels spans the whole image.
    const int64_t ph = grid_ ? height / kPartition : kPartition;
    const int64_t pw = grid_ ? width / kPartition : kPartition;
    torch::Tensor x = partition_op_->forward(input, ph, pw);
    detail::record(partition_op_.get(), x);
    x = run(partition_swap_, x);  // [N, groups, 49, C]
    x = x + run(stochastic_dropout_, run(attn_layer_, x));
    x = x + run(stochastic_dropout_, run(mlp_layer_, x));
    x = run(departition_swap_, x);
    x = departition_op_->forward(x, ph, pw, height / ph, width / pw);
    detail::record(departition_op_.get(), x);
    return x;
  }

 private:
  // SwapAxes for the grid, nn.Identity for windows, as torchvision registers them.
  torch::nn::AnyModule swap_or_identity(const std::string& name) {
    torch::nn::AnyModule module =
        grid_ ? torch::nn::AnyModule(SwapAxes()) : torch::nn::AnyModule(torch::nn::Identity());
    register_module(name, module.ptr());
    return module;
  }

  bool grid_;
  WindowPartition partition_op_{nullptr};
  WindowDepartition departition_op_{nullptr};
  torch::nn::AnyModule partition_swap_;
  torch::nn::AnyModule departition_swap_;
  torch::nn::Sequential attn_layer_{nullptr};
  torch::nn::Sequential mlp_layer_{nullptr};
  detail::StochasticDepth stochastic_dropout_{nullptr};
};
TORCH_MODULE(PartitionAttention);

// torchvision's MaxVitLayer (`layers` = MBconv, window_attention, grid_attention) and MaxVitBlock
// (`layers` = its MaxVitLayers): one child `layers` whose children run in order.
class LayerStackImpl : public torch::nn::Module {
 public:
  LayerStackImpl() { layers_ = register_module("layers", detail::Stage()); }

  /// The stage the layers go into.
  detail::Stage& layers() { return layers_; }

  // [N, C, H, W] → what the last layer makes of it.
  torch::Tensor forward(const torch::Tensor& x) { return run(layers_, x); }

 private:
  detail::Stage layers_{nullptr};
};
TORCH_MODULE(LayerStack);

class MaxVitImpl : public ClassifierImpl {
 public:
  explicit MaxVitImpl(int64_t num_classes) {
    if (num_classes < 1) {
      throw InvalidArgument("maxvit_t: num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    stem_ = register_module("stem", torch::nn::Sequential());
    stem_->push_back(
        detail::Conv2dNormActivation(conv_norm_gelu(3, kStemChannels, 3).stride(2)));
    detail::Stage stem_conv;  // torchvision's Conv2dNormActivation without norm or activation
    stem_conv->push_back(torch::nn::AnyModule(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(kStemChannels, kStemChannels, 3).padding(1))));
    stem_->push_back(stem_conv);

    blocks_ = register_module("blocks", detail::Stage());
    int64_t total_layers = 0;
    for (const int64_t layers : kBlockLayers) total_layers += layers;
    int64_t layer_index = 0;
    int64_t in = kStemChannels;
    for (size_t b = 0; b < kBlockChannels.size(); ++b) {
      const int64_t out = kBlockChannels[b];
      LayerStack block;
      for (int64_t i = 0; i < kBlockLayers[b]; ++i) {
        // numpy's linspace(0, 0.2, 11), whose last value is the end itself.
        const double drop = layer_index + 1 == total_layers
                                ? kStochasticDepth
                                : static_cast<double>(layer_index) *
                                      (kStochasticDepth / static_cast<double>(total_layers - 1));
        LayerStack layer;
        layer->layers()->push_back("MBconv",
                                   torch::nn::AnyModule(MBConv(i == 0 ? in : out, out,
                                                               i == 0 ? 2 : 1, drop)));
        layer->layers()->push_back("window_attention",
                                   torch::nn::AnyModule(PartitionAttention(out, false, drop)));
        layer->layers()->push_back("grid_attention",
                                   torch::nn::AnyModule(PartitionAttention(out, true, drop)));
        block->layers()->push_back(torch::nn::AnyModule(layer));
        ++layer_index;
      }
      blocks_->push_back(torch::nn::AnyModule(block));
      in = out;
    }

    const int64_t channels = kBlockChannels.back();
    // torchvision's `classifier` is nn.Sequential(pool, Flatten, LayerNorm, Linear, Tanh, head);
    // here a plain parent, so the head at "classifier.5" can be replaced by path. Its first five
    // children belong to features().
    classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Sequential"));
    avgpool_ = classifier_->register_module(
        "0", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    flatten_ = classifier_->register_module("1", torch::nn::Flatten());
    norm_ = classifier_->register_module("2", detail::LayerNorm(channels, kLayerNormEps));
    hidden_ = classifier_->register_module("3", torch::nn::Linear(channels, channels));
    tanh_ = classifier_->register_module("4", torch::nn::Tanh());
    set_head("classifier.5", channels,
             torch::nn::AnyModule(torch::nn::Linear(
                 torch::nn::LinearOptions(channels, num_classes).bias(false))));
    init_weights();
  }

  torch::Tensor features(const torch::Tensor& images) override {
    // [N, 3, H, W]
    torch::Tensor x = run(blocks_, run(stem_, images));
    // [N, 512, H / 32, W / 32]
    x = run(norm_, run(flatten_, run(avgpool_, x)));
    return run(tanh_, run(hidden_, x));  // [N, 512]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*classifier_, features);  // [N, num_classes]
  }

 protected:
  // torchvision's Linears: normal std 0.02, zero bias (its own head has none).
  void init_head(torch::nn::Module& head) override {
    torch::NoGradGuard no_grad;
    auto& linear = dynamic_cast<torch::nn::LinearImpl&>(head);
    torch::nn::init::normal_(linear.weight, 0, 0.02);
    if (linear.bias.defined()) torch::nn::init::zeros_(linear.bias);
  }

 private:
  // torchvision's _init_weights, in named_modules() order: convolutions and Linears normal
  // std 0.02 with zero bias, BatchNorms weight 1 and bias 0.
  void init_weights() {
    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::normal_(conv->weight, 0, 0.02);
        if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
      } else if (auto* norm = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(norm->weight);
        torch::nn::init::zeros_(norm->bias);
      } else if (auto* linear = module->as<torch::nn::Linear>()) {
        init_head(*linear);
      }
    }
  }

  torch::nn::Sequential stem_{nullptr};
  detail::Stage blocks_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Flatten flatten_{nullptr};
  detail::LayerNorm norm_{nullptr};
  torch::nn::Linear hidden_{nullptr};
  torch::nn::Tanh tanh_{nullptr};
};

}  // namespace

Classifier maxvit_t(const ModelOptions& options) {
  return std::make_shared<MaxVitImpl>(options.num_classes());
}

}  // namespace xfer::models

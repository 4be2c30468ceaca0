// Swin Transformers V1 and V2, mirroring torchvision 0.14 torchvision/models/swin_transformer.py:
// the same children, parameters and buffers under the same names, in the same order, initialised
// with the same draws in the same order. What torchvision computes from parameters alone (the
// relative position bias, V2's temperature and key-free qkv bias) and from the input's size alone
// (the shifted windows' mask) is computed outside any trace, so an exported graph holds it as a
// constant; autograd still sees it. The cyclic shift is written as two slices and a
// concatenation and patch merging as a reshape, which ONNX has; both move the same values as
// torchvision's torch.roll and strided slices.

#include "xfer/models/swin.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"
#include "xfer/models/taps.h"

#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>
#include <cmath>
#include <vector>

namespace xfer::models {
namespace {

constexpr double kNormEps = 1e-5;
constexpr int64_t kPatch = 4;
constexpr int64_t kStages = 4;
constexpr int64_t kCpbHidden = 512;  // V2's continuous position bias MLP

struct Layout {
  const char* name;
  int64_t width;  // channels of the first stage, doubled by each patch merging
  std::array<int64_t, kStages> depths;
  std::array<int64_t, kStages> heads;
  int64_t window;
  double stochastic_depth;  // at the last block, growing linearly from 0 at the first
  bool v2;
};

constexpr std::array<Layout, 6> kLayouts{{
    {"swin_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 0.2, false},
    {"swin_s", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7, 0.3, false},
    {"swin_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7, 0.5, false},
    {"swin_v2_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 8, 0.2, true},
    {"swin_v2_s", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 8, 0.3, true},
    {"swin_v2_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 8, 0.5, true},
}};

const Layout& layout_of(const std::string& name) {
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
  }
  throw InvalidArgument("swin: expected swin_t, swin_s, swin_b, swin_v2_t, swin_v2_s or swin_v2_b, "
                        "got '" + name + "'");
}

// torch.roll(x, shift, dim) as two slices and a concatenation.
torch::Tensor roll(const torch::Tensor& x, int64_t shift, int64_t dim) {
  const int64_t size = x.size(dim);
  const int64_t by = ((shift % size) + size) % size;
  if (by == 0) return x;
  return torch::cat({x.narrow(dim, size - by, by), x.narrow(dim, 0, size - by)}, dim);
}

// V2's [1, 2 window - 1, 2 window - 1, 2] float32: the relative offsets (dy, dx), scaled to
// [-8, 8] and mapped by sign(t) log2(|t| + 1) / 3, with torchvision's float32 operations.
torch::Tensor relative_coords_table(int64_t window) {
  const torch::Tensor offsets = torch::arange(-(window - 1), window, torch::kFloat32);
  const auto grid = torch::meshgrid({offsets, offsets}, "ij");
  torch::Tensor table =
      torch::stack({grid[0], grid[1]}).permute({1, 2, 0}).contiguous().unsqueeze(0);
  table = table / (window - 1) * 8;
  return torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / 3.0;
}

// Which of torchvision's three slices (0, -window), (-window, -shift), (-shift, None) last
// assigned each of `size` rows: 0 away from the far edge, 1 the last window before the shifted
// part, 2 the rows the cyclic shift brought from the other edge (Python's -0 is 0, so without a
// shift the third slice takes every row).
std::vector<int64_t> shift_regions(int64_t size, int64_t window, int64_t shift) {
  std::vector<int64_t> region(static_cast<size_t>(size), 0);
  const int64_t second_end = shift == 0 ? 0 : size - shift;
  for (int64_t i = size - window; i < second_end; ++i) region[static_cast<size_t>(i)] = 1;
  for (int64_t i = shift == 0 ? 0 : size - shift; i < size; ++i) {
    region[static_cast<size_t>(i)] = 2;
  }
  return region;
}

// The mask of shifted windows [windows, window^2, window^2] over a padded [height, width] grid:
// 0 between tokens of one region, -100 between tokens the cyclic shift brought together.
torch::Tensor shift_mask(int64_t height, int64_t width, int64_t window, int64_t shift_h,
                         int64_t shift_w, const torch::TensorOptions& options) {
  const auto rows = shift_regions(height, window, shift_h);
  const auto columns = shift_regions(width, window, shift_w);
  std::vector<int64_t> region;
  region.reserve(static_cast<size_t>(height * width));
  for (const int64_t row : rows) {
    for (const int64_t column : columns) region.push_back(row * 3 + column);
  }
  const int64_t windows = (height / window) * (width / window);
  const torch::Tensor grid = torch::tensor(region, torch::TensorOptions().device(options.device()))
                                 .view({height / window, window, width / window, window})
                                 .permute({0, 2, 1, 3})
                                 .reshape({windows, window * window});
  const torch::Tensor apart = grid.unsqueeze(1) != grid.unsqueeze(2);
  return torch::zeros(apart.sizes(), options).masked_fill(apart, -100.0);
}

// torchvision's ShiftedWindowAttention (V1) and ShiftedWindowAttentionV2: multi-head attention
// within each window of [N, H, W, C], the grid padded to whole windows and, for `shift` > 0,
// rolled by -shift first and back after, with the mask keeping apart the tokens the roll joined.
class ShiftedWindowAttentionImpl : public torch::nn::Module {
 public:
  ShiftedWindowAttentionImpl(int64_t dim, int64_t window, int64_t shift, int64_t heads, bool v2)
      : window_(window), shift_(shift), heads_(heads), v2_(v2) {
    qkv_ = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj_ = register_module("proj", torch::nn::Linear(dim, dim));
    if (v2_) {
      coords_table_ = register_buffer("relative_coords_table", relative_coords_table(window));
    } else {
      bias_table_ = register_parameter(
          "relative_position_bias_table",
          torch::zeros({(2 * window - 1) * (2 * window - 1), heads}));
      detail::trunc_normal_(bias_table_, 0, 0.02, -2, 2);
    }
    index_ = register_buffer("relative_position_index",
                             detail::relative_position_index(window).flatten());
    if (v2_) {
      logit_scale_ = register_parameter("logit_scale", torch::log(10 * torch::ones({heads, 1, 1})));
      cpb_mlp_ = register_module(
          "cpb_mlp",
          torch::nn::Sequential(torch::nn::Linear(2, kCpbHidden), torch::nn::ReLU(),
                                torch::nn::Linear(torch::nn::LinearOptions(kCpbHidden, heads)
                                                      .bias(false))));
    }
  }

  // [N, H, W, C] → [N, H, W, C].
  torch::Tensor forward(const torch::Tensor& input) {
    const int64_t height = input.size(1);
    const int64_t width = input.size(2);
    const int64_t channels = input.size(3);
    const int64_t pad_bottom = (window_ - height % window_) % window_;
    const int64_t pad_right = (window_ - width % window_) % window_;
    torch::Tensor x = input;
    if (pad_bottom > 0 || pad_right > 0) {
      x = torch::constant_pad_nd(x, {0, 0, 0, pad_right, 0, pad_bottom});
    }
    const int64_t padded_h = height + pad_bottom;
    const int64_t padded_w = width + pad_right;
    // Along an axis one window covers whole, nothing is shifted.
    const int64_t shift_h = window_ >= padded_h ? 0 : shift_;
    const int64_t shift_w = window_ >= padded_w ? 0 : shift_;
    x = roll(roll(x, -shift_h, 1), -shift_w, 2);

    const int64_t rows = padded_h / window_;
    const int64_t columns = padded_w / window_;
    const int64_t windows = rows * columns;
    const int64_t tokens = window_ * window_;
    // The batch is left to -1 in every reshape, so an exported graph keeps it dynamic.
    x = x.reshape({-1, rows, window_, columns, window_, channels})
            .permute({0, 1, 3, 2, 4, 5})
            .reshape({-1, tokens, channels});  // [N x windows, tokens, C]

    torch::Tensor qkv;
    if (v2_) {
      // V2 has no key bias: the middle third of qkv.bias never acts.
      const torch::Tensor bias = detail::untraced([&] {
        torch::Tensor keep = torch::ones_like(qkv_->bias);
        keep.narrow(0, channels, channels).zero_();
        return qkv_->bias * keep;
      });
      qkv = torch::nn::functional::linear(x, qkv_->weight, bias);
      detail::record(qkv_.get(), qkv);
    } else {
      qkv = run(qkv_, x);
    }
    const int64_t head_dim = channels / heads_;
    qkv = qkv.reshape({-1, tokens, 3, heads_, head_dim}).permute({2, 0, 3, 1, 4});
    // [3, N x windows, heads, tokens, head_dim]
    const torch::Tensor q = qkv[0];
    const torch::Tensor k = qkv[1];
    torch::Tensor attention;  // [N x windows, heads, tokens, tokens]
    if (v2_) {
      namespace F = torch::nn::functional;
      const auto unit = F::NormalizeFuncOptions().dim(-1);
      const torch::Tensor scale =
          detail::untraced([&] { return logit_scale_.clamp_max(std::log(100.0)).exp(); });
      attention = F::normalize(q, unit).matmul(F::normalize(k, unit).transpose(-2, -1)) * scale;
    } else {
      attention = (q * std::pow(static_cast<double>(head_dim), -0.5)).matmul(k.transpose(-2, -1));
    }
    attention = attention + detail::untraced([&] { return position_bias(); });
    if (shift_h > 0 || shift_w > 0) {
      const torch::Tensor mask = detail::untraced([&] {
        return shift_mask(padded_h, padded_w, window_, shift_h, shift_w, input.options());
      });  // [windows, tokens, tokens]
      attention = (attention.view({-1, windows, heads_, tokens, tokens}) +
                   mask.unsqueeze(1).unsqueeze(0))
                      .view({-1, heads_, tokens, tokens});
    }
    attention = torch::softmax(attention, -1);
    x = attention.matmul(qkv[2]).transpose(1, 2).reshape({-1, tokens, channels});
    x = run(proj_, x);  // [N x windows, tokens, C]

    x = x.reshape({-1, rows, columns, window_, window_, channels})
            .permute({0, 1, 3, 2, 4, 5})
            .reshape({-1, padded_h, padded_w, channels});
    x = roll(roll(x, shift_h, 1), shift_w, 2);
    if (pad_bottom > 0 || pad_right > 0) x = x.narrow(1, 0, height).narrow(2, 0, width);
    return x.contiguous();  // [N, H, W, C]
  }

 private:
  // [1, heads, tokens, tokens]: the learned bias of each relative offset (V1), or V2's
  // 16 sigmoid(cpb_mlp(relative_coords_table)).
  torch::Tensor position_bias() {
    const int64_t tokens = window_ * window_;
    if (!v2_) return detail::relative_position_bias(bias_table_, index_, tokens);
    const torch::Tensor table = run(cpb_mlp_, coords_table_).view({-1, heads_});
    return 16 * torch::sigmoid(detail::relative_position_bias(table, index_, tokens));
  }

  int64_t window_;
  int64_t shift_;
  int64_t heads_;
  bool v2_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
  torch::Tensor bias_table_;    // V1: [(2 window - 1)^2, heads]
  torch::Tensor coords_table_;  // V2: [1, 2 window - 1, 2 window - 1, 2]
  torch::Tensor index_;         // [window^4] int64
  torch::Tensor logit_scale_;   // V2: [heads, 1, 1]
  torch::nn::Sequential cpb_mlp_{nullptr};
};
TORCH_MODULE(ShiftedWindowAttention);

// torchvision's SwinTransformerBlock (pre-norm: x + sd(attn(norm1(x))), then + sd(mlp(norm2(.))))
// and SwinTransformerBlockV2 (post-norm: x + sd(norm1(attn(x))), then + sd(norm2(mlp(.)))).
class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int64_t dim, int64_t heads, int64_t window, int64_t shift, double drop, bool v2)
      : v2_(v2) {
    norm1_ = register_module("norm1", detail::LayerNorm(dim, kNormEps));
    attn_ = register_module("attn", ShiftedWindowAttention(dim, window, shift, heads, v2));
    stochastic_depth_ = register_module("stochastic_depth", detail::StochasticDepth(drop));
    norm2_ = register_module("norm2", detail::LayerNorm(dim, kNormEps));
    torch::nn::Linear fc1(dim, 4 * dim);
    torch::nn::Linear fc2(4 * dim, dim);
    mlp_ = register_module("mlp", torch::nn::Sequential(fc1, torch::nn::GELU(),
                                                        torch::nn::Dropout(0.0), fc2,
                                                        torch::nn::Dropout(0.0)));
    // As torchvision's block; its model re-initialises every Linear after.
    torch::NoGradGuard no_grad;
    for (auto* linear : {fc1.get(), fc2.get()}) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::normal_(linear->bias, 0, 1e-6);
    }
  }

  // [N, H, W, C] → [N, H, W, C].
  torch::Tensor forward(const torch::Tensor& input) {
    if (v2_) {
      const torch::Tensor x = input + run(stochastic_depth_, run(norm1_, run(attn_, input)));
      return x + run(stochastic_depth_, run(norm2_, run(mlp_, x)));
    }
    const torch::Tensor x = input + run(stochastic_depth_, run(attn_, run(norm1_, input)));
    return x + run(stochastic_depth_, run(mlp_, run(norm2_, x)));
  }

 private:
  bool v2_;
  detail::LayerNorm norm1_{nullptr};
  ShiftedWindowAttention attn_{nullptr};
  detail::StochasticDepth stochastic_depth_{nullptr};
  detail::LayerNorm norm2_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(SwinBlock);

// torchvision's PatchMerging (norm, then reduction) and PatchMergingV2 (reduction, then norm):
// each 2x2 neighbourhood of [N, H, W, C] (padded to even sides) concatenated in torchvision's
// order (even row even column, odd even, even odd, odd odd) and reduced to 2C.
class PatchMergingImpl : public torch::nn::Module {
 public:
  PatchMergingImpl(int64_t dim, bool v2) : v2_(v2) {
    reduction_ = register_module(
        "reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
    norm_ = register_module("norm", detail::LayerNorm(v2 ? 2 * dim : 4 * dim, kNormEps));
  }

  // [N, H, W, C] → [N, ceil(H / 2), ceil(W / 2), 2C].
  torch::Tensor forward(const torch::Tensor& input) {
    const int64_t height = input.size(1);
    const int64_t width = input.size(2);
    const int64_t channels = input.size(3);
    torch::Tensor x = input;
    if (height % 2 != 0 || width % 2 != 0) {
      x = torch::constant_pad_nd(x, {0, 0, 0, width % 2, 0, height % 2});
    }
    const int64_t half_h = (height + 1) / 2;
    const int64_t half_w = (width + 1) / 2;
    // [N, H/2, dy, W/2, dx, C] → [N, H/2, W/2, dx, dy, C]: neighbour dx * 2 + dy.
    x = x.reshape({-1, half_h, 2, half_w, 2, channels})
            .permute({0, 1, 3, 4, 2, 5})
            .reshape({-1, half_h, half_w, 4 * channels});
    if (v2_) return run(norm_, run(reduction_, x));
    return run(reduction_, run(norm_, x));
  }

 private:
  bool v2_;
  torch::nn::Linear reduction_{nullptr};
  detail::LayerNorm norm_{nullptr};
};
TORCH_MODULE(PatchMerging);

class SwinTransformerImpl : public ClassifierImpl {
 public:
  SwinTransformerImpl(const std::string& name, int64_t num_classes) {
    const Layout& layout = layout_of(name);
    if (num_classes < 1) {
      throw InvalidArgument(std::string(layout.name) + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    features_ = register_module("features", torch::nn::Sequential());
    detail::Stage embedding;
    embedding->push_back(torch::nn::AnyModule(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(3, layout.width, kPatch).stride(kPatch))));
    embedding->push_back(torch::nn::AnyModule(detail::Permute(std::vector<int64_t>{0, 2, 3, 1})));
    embedding->push_back(torch::nn::AnyModule(detail::LayerNorm(layout.width, kNormEps)));
    features_->push_back(embedding);

    int64_t total_blocks = 0;
    for (const int64_t depth : layout.depths) total_blocks += depth;
    int64_t block_index = 0;
    for (int64_t stage = 0; stage < kStages; ++stage) {
      const int64_t dim = layout.width << stage;
      detail::Stage blocks;
      for (int64_t i = 0; i < layout.depths[stage]; ++i) {
        const double drop = layout.stochastic_depth * static_cast<double>(block_index) /
                            static_cast<double>(total_blocks - 1);
        const int64_t shift = i % 2 == 0 ? 0 : layout.window / 2;
        blocks->push_back(torch::nn::AnyModule(
            SwinBlock(dim, layout.heads[stage], layout.window, shift, drop, layout.v2)));
        ++block_index;
      }
      features_->push_back(blocks);
      if (stage + 1 < kStages) features_->push_back(PatchMerging(dim, layout.v2));
    }
    const int64_t channels = layout.width << (kStages - 1);
    norm_ = register_module("norm", detail::LayerNorm(channels, kNormEps));
    permute_ = register_module("permute", detail::Permute(std::vector<int64_t>{0, 3, 1, 2}));
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    flatten_ = register_module("flatten", torch::nn::Flatten());
    set_head("head", channels, torch::nn::AnyModule(torch::nn::Linear(channels, num_classes)));
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* linear = module->as<torch::nn::Linear>()) init_head(*linear);
    }
  }

  torch::Tensor features(const torch::Tensor& images) override {
    // [N, 3, H, W]
    torch::Tensor x = run(norm_, run(features_, images));
    // [N, H / 32, W / 32, 8 width]
    return run(flatten_, run(avgpool_, run(permute_, x)));  // [N, 8 width]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head(features);  // [N, num_classes]
  }

 protected:
  // Every Linear of torchvision's Swin, the head included: truncated normal std 0.02, zero bias.
  void init_head(torch::nn::Module& head) override {
    torch::NoGradGuard no_grad;
    auto& linear = dynamic_cast<torch::nn::LinearImpl&>(head);
    detail::trunc_normal_(linear.weight, 0, 0.02, -2, 2);
    if (linear.bias.defined()) torch::nn::init::zeros_(linear.bias);
  }

 private:
  torch::nn::Sequential features_{nullptr};
  detail::LayerNorm norm_{nullptr};
  detail::Permute permute_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Flatten flatten_{nullptr};
};

}  // namespace

Classifier swin_t(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_t", options.num_classes());
}

Classifier swin_s(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_s", options.num_classes());
}

Classifier swin_b(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_b", options.num_classes());
}

Classifier swin_v2_t(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_v2_t", options.num_classes());
}

Classifier swin_v2_s(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_v2_s", options.num_classes());
}

Classifier swin_v2_b(const ModelOptions& options) {
  return std::make_shared<SwinTransformerImpl>("swin_v2_b", options.num_classes());
}

}  // namespace xfer::models

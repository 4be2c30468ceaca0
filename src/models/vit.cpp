// Vision Transformers, mirroring torchvision 0.14 torchvision/models/vision_transformer.py
// (classification token, no representation layer, no convolutional stem): the same children and
// parameters under the same names, in the same order, with the same initialisation.
// nn.MultiheadAttention is written out here as torchvision's keys need it (`in_proj_weight`,
// `in_proj_bias`, `out_proj`): one projection to queries, keys and values, softmax(q k^T /
// sqrt(d)) v per head, the output projection. Dropouts are torchvision's (0 for its weights).

#include "xfer/models/vit.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <cmath>
#include <vector>

namespace xfer::models {
namespace {

constexpr double kNormEps = 1e-6;
constexpr int64_t kDefaultImageSize = 224;

struct Layout {
  const char* name;
  int64_t patch;
  int64_t layers;
  int64_t heads;
  int64_t hidden;
  int64_t mlp;
};

constexpr std::array<Layout, 5> kLayouts{{
    {"vit_b_16", 16, 12, 12, 768, 3072},
    {"vit_b_32", 32, 12, 12, 768, 3072},
    {"vit_l_16", 16, 24, 16, 1024, 4096},
    {"vit_l_32", 32, 24, 16, 1024, 4096},
    {"vit_h_14", 14, 32, 16, 1280, 5120},
}};

const Layout& layout_of(const std::string& name) {
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
  }
  throw InvalidArgument("vit: expected vit_b_16, vit_b_32, vit_l_16, vit_l_32 or vit_h_14, got '" +
                        name + "'");
}

// nn.MultiheadAttention(hidden, heads, batch_first=True) used as self-attention without masks.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t hidden, int64_t heads) : heads_(heads) {
    in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * hidden, hidden}));
    in_proj_bias_ = register_parameter("in_proj_bias", torch::empty({3 * hidden}));
    // PyTorch's order: out_proj is built (nn.Linear's default draws) before _reset_parameters.
    out_proj_ = register_module("out_proj", torch::nn::Linear(hidden, hidden));
    torch::NoGradGuard no_grad;
    torch::nn::init::xavier_uniform_(in_proj_weight_);
    torch::nn::init::zeros_(in_proj_bias_);
    torch::nn::init::zeros_(out_proj_->bias);
  }

  // [N, L, hidden] → [N, L, hidden].
  torch::Tensor forward(const torch::Tensor& x) {
    // The batch is left to -1 in every reshape, so an exported graph keeps it dynamic.
    const int64_t length = x.size(1);
    const int64_t hidden = x.size(2);
    const int64_t head_dim = hidden / heads_;
    const auto qkv = torch::nn::functional::linear(x, in_proj_weight_, in_proj_bias_)
                         .view({-1, length, 3, heads_, head_dim})
                         .permute({2, 0, 3, 1, 4});  // [3, N, heads, L, head_dim]
    const torch::Tensor q = qkv[0] / std::sqrt(static_cast<double>(head_dim));
    const torch::Tensor attention = torch::softmax(q.matmul(qkv[1].transpose(-2, -1)), -1);
    // [N, heads, L, L]
    const torch::Tensor y = attention.matmul(qkv[2]).transpose(1, 2).reshape({-1, length, hidden});
    return run(out_proj_, y);  // [N, L, hidden]
  }

 private:
  int64_t heads_;
  torch::Tensor in_proj_weight_;
  torch::Tensor in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(SelfAttention);

// torchvision's EncoderBlock: x + dropout(attention(ln_1(x))), then + mlp(ln_2(.)).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(const Layout& layout, double dropout) {
    ln_1_ = register_module("ln_1", detail::LayerNorm(layout.hidden, kNormEps));
    self_attention_ =
        register_module("self_attention", SelfAttention(layout.hidden, layout.heads));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    ln_2_ = register_module("ln_2", detail::LayerNorm(layout.hidden, kNormEps));
    torch::nn::Linear fc1(layout.hidden, layout.mlp);
    torch::nn::Linear fc2(layout.mlp, layout.hidden);
    mlp_ = register_module("mlp", torch::nn::Sequential(fc1, torch::nn::GELU(),
                                                        torch::nn::Dropout(dropout), fc2,
                                                        torch::nn::Dropout(dropout)));
    // torchvision's MLPBlock: Xavier-uniform weights, biases normal(0, 1e-6).
    torch::NoGradGuard no_grad;
    for (auto* linear : {fc1.get(), fc2.get()}) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::normal_(linear->bias, 0, 1e-6);
    }
  }

  // [N, L, hidden] → [N, L, hidden].
  torch::Tensor forward(const torch::Tensor& input) {
    const torch::Tensor x = run(dropout_, run(self_attention_, run(ln_1_, input))) + input;
    return x + run(mlp_, run(ln_2_, x));
  }

 private:
  detail::LayerNorm ln_1_{nullptr};
  SelfAttention self_attention_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  detail::LayerNorm ln_2_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(EncoderBlock);

// torchvision's Encoder: `pos_embedding`, `dropout`, `layers` and the final `ln`.
class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const Layout& layout, int64_t grid, double dropout)
      : grid_(grid), rows_(grid), columns_(grid) {
    pos_embedding_ = register_parameter(
        "pos_embedding", torch::empty({1, grid * grid + 1, layout.hidden}).normal_(0, 0.02));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    layers_ = register_module("layers", detail::Stage());
    for (int64_t i = 0; i < layout.layers; ++i) {
      layers_->push_back("encoder_layer_" + std::to_string(i),
                         torch::nn::AnyModule(EncoderBlock(layout, dropout)));
    }
    ln_ = register_module("ln", detail::LayerNorm(layout.hidden, kNormEps));
  }

  /// The patch grid (rows, columns) of the tokens forward() is given next.
  void set_grid(int64_t rows, int64_t columns) {
    rows_ = rows;
    columns_ = columns;
  }

  // The class token and a grid of patches [N, 1 + rows x columns, hidden] → the same shape.
  torch::Tensor forward(const torch::Tensor& tokens) {
    torch::Tensor x = tokens + position_embeddings();
    return run(ln_, run(layers_, run(dropout_, x)));
  }

 private:
  // The position embeddings [1, 1 + rows x columns, hidden]: the trained ones, or for another grid
  // their patch part resampled bicubically (the class token's entry is kept).
  torch::Tensor position_embeddings() const {
    if (rows_ == grid_ && columns_ == grid_) return pos_embedding_;
    const int64_t hidden = pos_embedding_.size(2);
    const torch::Tensor patches = pos_embedding_.narrow(1, 1, grid_ * grid_)
                                      .reshape({1, grid_, grid_, hidden})
                                      .permute({0, 3, 1, 2});  // [1, hidden, grid, grid]
    const torch::Tensor resized = torch::nn::functional::interpolate(
        patches, torch::nn::functional::InterpolateFuncOptions()
                     .size(std::vector<int64_t>{rows_, columns_})
                     .mode(torch::kBicubic)
                     .align_corners(false));  // [1, hidden, rows, columns]
    return torch::cat({pos_embedding_.narrow(1, 0, 1),
                       resized.permute({0, 2, 3, 1}).reshape({1, rows_ * columns_, hidden})},
                      1);
  }

  int64_t grid_;  // side of the patch grid pos_embedding was made for
  int64_t rows_;
  int64_t columns_;
  torch::Tensor pos_embedding_;
  torch::nn::Dropout dropout_{nullptr};
  detail::Stage layers_{nullptr};
  detail::LayerNorm ln_{nullptr};
};
TORCH_MODULE(Encoder);

class VisionTransformerImpl : public ClassifierImpl {
 public:
  VisionTransformerImpl(const std::string& name, const ModelOptions& options)
      : layout_(layout_of(name)) {
    const int64_t num_classes = options.num_classes();
    const int64_t image_size = options.image_size() > 0 ? options.image_size() : kDefaultImageSize;
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    if (image_size % layout_.patch != 0) {
      throw InvalidArgument(name + ": image_size: expected a multiple of the patch " +
                            std::to_string(layout_.patch) + ", got " + std::to_string(image_size));
    }
    conv_proj_ = register_module(
        "conv_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, layout_.hidden, layout_.patch)
                                           .stride(layout_.patch)));
    class_token_ = register_parameter("class_token", torch::zeros({1, 1, layout_.hidden}));
    encoder_ = register_module("encoder", Encoder(layout_, image_size / layout_.patch, 0.0));
    heads_ = register_module("heads", std::make_shared<torch::nn::Module>("Heads"));
    torch::nn::Linear head(layout_.hidden, num_classes);

    torch::NoGradGuard no_grad;
    const double fan_in = 3.0 * static_cast<double>(layout_.patch * layout_.patch);
    detail::trunc_normal_(conv_proj_->weight, 0, std::sqrt(1 / fan_in), -2, 2);
    torch::nn::init::zeros_(conv_proj_->bias);
    init_head(*head);
    set_head("heads.head", layout_.hidden, torch::nn::AnyModule(head));
  }

  torch::Tensor features(const torch::Tensor& images) override {
    torch::Tensor x = run(conv_proj_, images);  // [N, hidden, H/p, W/p], partial patches dropped
    encoder_->set_grid(x.size(2), x.size(3));
    // The batch is left to -1 and the class token expanded as a traced tensor, so an exported
    // graph keeps the batch dynamic.
    x = x.reshape({-1, layout_.hidden, x.size(2) * x.size(3)}).permute({0, 2, 1});
    // [N, H/p x W/p, hidden]
    x = torch::cat({class_token_.expand_as(x.narrow(1, 0, 1)), x}, 1);
    // [N, 1 + H/p x W/p, hidden]
    x = run(encoder_, x);                                       // [N, 1 + H/p x W/p, hidden]
    return x.select(1, 0);                                      // [N, hidden]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*heads_, features);  // [N, num_classes]
  }

 protected:
  // torchvision starts the head at zero, weight and bias.
  void init_head(torch::nn::Module& head) override {
    torch::NoGradGuard no_grad;
    auto& linear = dynamic_cast<torch::nn::LinearImpl&>(head);
    torch::nn::init::zeros_(linear.weight);
    torch::nn::init::zeros_(linear.bias);
  }

 private:
  const Layout& layout_;
  torch::nn::Conv2d conv_proj_{nullptr};
  torch::Tensor class_token_;
  Encoder encoder_{nullptr};
  std::shared_ptr<torch::nn::Module> heads_;
};

}  // namespace

Classifier vit_b_16(const ModelOptions& options) {
  return std::make_shared<VisionTransformerImpl>("vit_b_16", options);
}

Classifier vit_b_32(const ModelOptions& options) {
  return std::make_shared<VisionTransformerImpl>("vit_b_32", options);
}

Classifier vit_l_16(const ModelOptions& options) {
  return std::make_shared<VisionTransformerImpl>("vit_l_16", options);
}

Classifier vit_l_32(const ModelOptions& options) {
  return std::make_shared<VisionTransformerImpl>("vit_l_32", options);
}

Classifier vit_h_14(const ModelOptions& options) {
  return std::make_shared<VisionTransformerImpl>("vit_h_14", options);
}

}  // namespace xfer::models

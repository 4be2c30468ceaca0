// RegNetX and RegNetY, mirroring torchvision 0.14 torchvision/models/regnet.py: the same children
// under the same names (`trunk_output.block2.block2-0.f.se.fc1`), in the same order, with the
// same initialisation. Each architecture's stages are torchvision's BlockParams.from_init_params
// as evaluated by torch 1.13 (its float32 arithmetic on w_0, w_a, w_m), kept here as data so no
// rounding of ours can move a width. Every bottleneck multiplier is 1.0. ReLUs are not in-place,
// so a tapped output keeps the value the module returned.

#include "xfer/models/regnet.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <cmath>

namespace xfer::models {
namespace {

using detail::Conv2dNormActivation;
using detail::Conv2dNormActivationOptions;

constexpr int64_t kStemWidth = 32;

struct Layout {
  const char* name;
  std::array<int64_t, 4> depths;        // blocks of each stage
  std::array<int64_t, 4> widths;        // output channels of each stage
  std::array<int64_t, 4> group_widths;  // channels of each group of the 3x3 convolution
  bool squeeze_excitation;              // RegNetY: se_ratio 0.25
};

constexpr std::array<Layout, 15> kLayouts{{
    {"regnet_y_400mf", {1, 3, 6, 6}, {48, 104, 208, 440}, {8, 8, 8, 8}, true},
    {"regnet_y_800mf", {1, 3, 8, 2}, {64, 144, 320, 784}, {16, 16, 16, 16}, true},
    {"regnet_y_1_6gf", {2, 6, 17, 2}, {48, 120, 336, 888}, {24, 24, 24, 24}, true},
    {"regnet_y_3_2gf", {2, 5, 13, 1}, {72, 216, 576, 1512}, {24, 24, 24, 24}, true},
    {"regnet_y_8gf", {2, 4, 10, 1}, {224, 448, 896, 2016}, {56, 56, 56, 56}, true},
    {"regnet_y_16gf", {2, 4, 11, 1}, {224, 448, 1232, 3024}, {112, 112, 112, 112}, true},
    {"regnet_y_32gf", {2, 5, 12, 1}, {232, 696, 1392, 3712}, {232, 232, 232, 232}, true},
    {"regnet_y_128gf", {2, 7, 17, 1}, {528, 1056, 2904, 7392}, {264, 264, 264, 264}, true},
    {"regnet_x_400mf", {1, 2, 7, 12}, {32, 64, 160, 400}, {16, 16, 16, 16}, false},
    {"regnet_x_800mf", {1, 3, 7, 5}, {64, 128, 288, 672}, {16, 16, 16, 16}, false},
    {"regnet_x_1_6gf", {2, 4, 10, 2}, {72, 168, 408, 912}, {24, 24, 24, 24}, false},
    {"regnet_x_3_2gf", {2, 6, 15, 2}, {96, 192, 432, 1008}, {48, 48, 48, 48}, false},
    {"regnet_x_8gf", {2, 5, 15, 1}, {80, 240, 720, 1920}, {80, 120, 120, 120}, false},
    {"regnet_x_16gf", {2, 6, 13, 1}, {256, 512, 896, 2048}, {128, 128, 128, 128}, false},
    {"regnet_x_32gf", {2, 7, 13, 1}, {336, 672, 1344, 2520}, {168, 168, 168, 168}, false},
}};

const Layout& layout_of(const std::string& name) {
  std::string known;
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
    known += (known.empty() ? "" : ", ") + std::string(layout.name);
  }
  throw InvalidArgument("regnet: expected one of " + known + ", got '" + name + "'");
}

// torchvision's ResBottleneckBlock: `proj` (when the width or the stride changes), `f` =
// BottleneckTransform {a: 1x1, b: grouped 3x3 with the stride, se (RegNetY), c: 1x1 without
// activation} and `activation`, applied to the sum.
class ResBottleneckBlockImpl : public torch::nn::Module {
 public:
  ResBottleneckBlockImpl(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width,
                         bool squeeze_excitation) {
    if (width_in != width_out || stride != 1) {
      proj_ = register_module("proj", Conv2dNormActivation(
                                          Conv2dNormActivationOptions(width_in, width_out)
                                              .kernel_size(1)
                                              .stride(stride)
                                              .activation(detail::Activation::kNone)));
    }
    torch::nn::Sequential f;
    f->push_back("a", Conv2dNormActivation(
                          Conv2dNormActivationOptions(width_in, width_out).kernel_size(1)));
    f->push_back("b", Conv2dNormActivation(Conv2dNormActivationOptions(width_out, width_out)
                                               .stride(stride)
                                               .groups(width_out / group_width)));
    if (squeeze_excitation) {
      // se_ratio 0.25 of the block's input width (an integer: every width is a multiple of 8).
      f->push_back("se", detail::SqueezeExcitation(width_out, width_in / 4,
                                                   detail::Activation::kReLU,
                                                   detail::ScaleActivation::kSigmoid));
    }
    f->push_back("c", Conv2dNormActivation(Conv2dNormActivationOptions(width_out, width_out)
                                               .kernel_size(1)
                                               .activation(detail::Activation::kNone)));
    f_ = register_module("f", f);
    activation_ = register_module("activation", torch::nn::ReLU());
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor shortcut = proj_ ? run(proj_, x) : x;  // [N, width_out, H/s, W/s]
    return run(activation_, shortcut + run(f_, x));           // [N, width_out, H/s, W/s]
  }

 private:
  Conv2dNormActivation proj_{nullptr};
  torch::nn::Sequential f_{nullptr};
  torch::nn::ReLU activation_{nullptr};
};
TORCH_MODULE(ResBottleneckBlock);

void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(linear.weight, 0, 0.01);
  torch::nn::init::zeros_(linear.bias);
}

class RegNetImpl : public ClassifierImpl {
 public:
  RegNetImpl(const std::string& name, int64_t num_classes) {
    const Layout& layout = layout_of(name);
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    stem_ = register_module(
        "stem", Conv2dNormActivation(Conv2dNormActivationOptions(3, kStemWidth).stride(2)));
    trunk_output_ = register_module("trunk_output", detail::Stage());
    int64_t width_in = kStemWidth;
    for (size_t s = 0; s < 4; ++s) {
      const std::string stage_name = "block" + std::to_string(s + 1);
      detail::Stage stage;
      for (int64_t i = 0; i < layout.depths[s]; ++i) {
        stage->push_back(stage_name + "-" + std::to_string(i),
                         torch::nn::AnyModule(ResBottleneckBlock(
                             i == 0 ? width_in : layout.widths[s], layout.widths[s],
                             i == 0 ? 2 : 1, layout.group_widths[s], layout.squeeze_excitation)));
      }
      trunk_output_->push_back(stage_name, torch::nn::AnyModule(stage));
      width_in = layout.widths[s];
    }
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(1));
    torch::nn::Linear head(width_in, num_classes);

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        // fan_out = kernel area * out_channels, grouped or not; a bias (squeeze-and-excitation's)
        // keeps nn.Conv2d's default, as in torchvision.
        const auto fan_out = static_cast<double>(conv->weight.size(0) * conv->weight.size(2) *
                                                 conv->weight.size(3));
        torch::nn::init::normal_(conv->weight, 0, std::sqrt(2.0 / fan_out));
      } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      }
    }
    init_linear(*head);
    set_head("fc", width_in, torch::nn::AnyModule(head));
  }

  torch::Tensor features(const torch::Tensor& images) override {
    torch::Tensor x = run(stem_, images);  // [N, 32, H/2, W/2]
    x = run(trunk_output_, x);             // [N, width, H/32, W/32]
    x = run(avgpool_, x);                  // [N, width, 1, 1]
    return torch::flatten(x, 1);           // [N, width]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head(features);  // [N, num_classes]
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    init_linear(dynamic_cast<torch::nn::LinearImpl&>(head));
  }

 private:
  Conv2dNormActivation stem_{nullptr};
  detail::Stage trunk_output_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

}  // namespace

Classifier regnet_y_400mf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_400mf", options.num_classes());
}

Classifier regnet_y_800mf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_800mf", options.num_classes());
}

Classifier regnet_y_1_6gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_1_6gf", options.num_classes());
}

Classifier regnet_y_3_2gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_3_2gf", options.num_classes());
}

Classifier regnet_y_8gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_8gf", options.num_classes());
}

Classifier regnet_y_16gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_16gf", options.num_classes());
}

Classifier regnet_y_32gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_32gf", options.num_classes());
}

Classifier regnet_y_128gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_y_128gf", options.num_classes());
}

Classifier regnet_x_400mf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_400mf", options.num_classes());
}

Classifier regnet_x_800mf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_800mf", options.num_classes());
}

Classifier regnet_x_1_6gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_1_6gf", options.num_classes());
}

Classifier regnet_x_3_2gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_3_2gf", options.num_classes());
}

Classifier regnet_x_8gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_8gf", options.num_classes());
}

Classifier regnet_x_16gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_16gf", options.num_classes());
}

Classifier regnet_x_32gf(const ModelOptions& options) {
  return std::make_shared<RegNetImpl>("regnet_x_32gf", options.num_classes());
}

}  // namespace xfer::models

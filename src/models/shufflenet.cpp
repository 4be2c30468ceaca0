// ShuffleNetV2, mirroring torchvision 0.14 torchvision/models/shufflenetv2.py: the same children
// under the same names (`stage3.0.branch1.2`), in the same order, with nn's default
// initialisation. ReLUs are not in-place, so a tapped output keeps the value the module returned.

#include "xfer/models/shufflenet.h"

#include "xfer/core/error.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>

namespace xfer::models {
namespace {

struct Layout {
  const char* name;
  std::array<int64_t, 5> out_channels;  // conv1, stage2, stage3, stage4, conv5
};

constexpr std::array<int64_t, 3> kRepeats = {4, 8, 4};

constexpr std::array<Layout, 4> kLayouts{{
    {"shufflenet_v2_x0_5", {24, 48, 96, 192, 1024}},
    {"shufflenet_v2_x1_0", {24, 116, 232, 464, 1024}},
    {"shufflenet_v2_x1_5", {24, 176, 352, 704, 1024}},
    {"shufflenet_v2_x2_0", {24, 244, 488, 976, 2048}},
}};

const Layout& layout_of(const std::string& name) {
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
  }
  throw InvalidArgument("shufflenet: expected shufflenet_v2_x0_5, x1_0, x1_5 or x2_0, got '" +
                        name + "'");
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(kernel / 2)
                               .groups(groups)
                               .bias(false));
}

// torchvision's channel_shuffle with two groups: [N, 2, C/2, H, W] transposed to [N, C/2, 2, H, W].
// The batch is left to -1, so an exported graph keeps it dynamic.
torch::Tensor channel_shuffle(const torch::Tensor& x) {
  const int64_t channels = x.size(1);
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  return x.view({-1, 2, channels / 2, h, w})
      .transpose(1, 2)
      .contiguous()
      .view({-1, channels, h, w});
}

// torchvision's InvertedResidual: stride 2 runs `branch1` (depthwise 3x3/2, BN, 1x1, BN, ReLU) and
// `branch2` on the whole input; stride 1 passes the first half of the channels and runs
// `branch2` (1x1, BN, ReLU, depthwise 3x3, BN, 1x1, BN, ReLU) on the second. Then the halves are
// concatenated and shuffled.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride) : stride_(stride) {
    const int64_t half = out / 2;
    branch1_ = register_module("branch1", torch::nn::Sequential());
    if (stride > 1) {
      branch1_->push_back(conv(in, in, 3, stride, in));
      branch1_->push_back(torch::nn::BatchNorm2d(in));
      branch1_->push_back(conv(in, half, 1, 1, 1));
      branch1_->push_back(torch::nn::BatchNorm2d(half));
      branch1_->push_back(torch::nn::ReLU());
    }
    branch2_ = register_module(
        "branch2",
        torch::nn::Sequential(conv(stride > 1 ? in : half, half, 1, 1, 1),
                              torch::nn::BatchNorm2d(half), torch::nn::ReLU(),
                              conv(half, half, 3, stride, half), torch::nn::BatchNorm2d(half),
                              conv(half, half, 1, 1, 1), torch::nn::BatchNorm2d(half),
                              torch::nn::ReLU()));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out;
    if (stride_ == 1) {
      // torchvision's x.chunk(2, dim=1), as two slices (which export as ONNX Slice).
      const int64_t half = x.size(1) / 2;
      out = torch::cat({x.narrow(1, 0, half), run(branch2_, x.narrow(1, half, half))}, 1);
      // [N, C, H, W]
    } else {
      out = torch::cat({run(branch1_, x), run(branch2_, x)}, 1);   // [N, out, H/2, W/2]
    }
    return channel_shuffle(out);
  }

 private:
  int64_t stride_;
  torch::nn::Sequential branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr};
};
TORCH_MODULE(InvertedResidual);

class ShuffleNetV2Impl : public ClassifierImpl {
 public:
  ShuffleNetV2Impl(const std::string& name, int64_t num_classes) {
    const Layout& layout = layout_of(name);
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    const auto& widths = layout.out_channels;
    conv1_ = register_module("conv1",
                             torch::nn::Sequential(conv(3, widths[0], 3, 2, 1),
                                                   torch::nn::BatchNorm2d(widths[0]),
                                                   torch::nn::ReLU()));
    maxpool_ = register_module(
        "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int64_t in = widths[0];
    for (size_t s = 0; s < 3; ++s) {
      torch::nn::Sequential stage;
      stage->push_back(InvertedResidual(in, widths[s + 1], 2));
      for (int64_t i = 1; i < kRepeats[s]; ++i) {
        stage->push_back(InvertedResidual(widths[s + 1], widths[s + 1], 1));
      }
      stages_[s] = register_module("stage" + std::to_string(s + 2), stage);
      in = widths[s + 1];
    }
    conv5_ = register_module(
        "conv5", torch::nn::Sequential(conv(in, widths[4], 1, 1, 1),
                                       torch::nn::BatchNorm2d(widths[4]), torch::nn::ReLU()));
    set_head("fc", widths[4], torch::nn::AnyModule(torch::nn::Linear(widths[4], num_classes)));
  }

  torch::Tensor features(const torch::Tensor& images) override {
    torch::Tensor x = run(conv1_, images);          // [N, 24, H/2, W/2]
    x = run(maxpool_, x);                           // [N, 24, H/4, W/4]
    for (auto& stage : stages_) x = run(stage, x);  // [N, stage width, H/32, W/32]
    return run(conv5_, x).mean({2, 3});             // [N, 1024 or 2048]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head(features);  // [N, num_classes]
  }

 private:
  torch::nn::Sequential conv1_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  std::array<torch::nn::Sequential, 3> stages_{nullptr, nullptr, nullptr};
  torch::nn::Sequential conv5_{nullptr};
};

}  // namespace

Classifier shufflenet_v2_x0_5(const ModelOptions& options) {
  return std::make_shared<ShuffleNetV2Impl>("shufflenet_v2_x0_5", options.num_classes());
}

Classifier shufflenet_v2_x1_0(const ModelOptions& options) {
  return std::make_shared<ShuffleNetV2Impl>("shufflenet_v2_x1_0", options.num_classes());
}

Classifier shufflenet_v2_x1_5(const ModelOptions& options) {
  return std::make_shared<ShuffleNetV2Impl>("shufflenet_v2_x1_5", options.num_classes());
}

Classifier shufflenet_v2_x2_0(const ModelOptions& options) {
  return std::make_shared<ShuffleNetV2Impl>("shufflenet_v2_x2_0", options.num_classes());
}

}  // namespace xfer::models

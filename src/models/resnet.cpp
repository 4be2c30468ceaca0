// ResNet-18/34/50/101/152, ResNeXt and Wide ResNet, mirroring torchvision 0.14
// torchvision/models/resnet.py: the same children under the same names, in the same order, with
// the same initialisation (zero_init_residual=False, no dilation). ReLUs are not in-place, so a
// tapped output keeps the value the module returned.

#include "xfer/models/resnet.h"

#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/linear.h>

#include <array>

namespace xfer::models {
namespace {

torch::nn::Conv2d conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride,
                          int64_t groups = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in_planes, out_planes, 3)
                               .stride(stride)
                               .padding(1)
                               .groups(groups)
                               .bias(false));
}

// How wide the blocks are: torchvision's groups and width_per_group (1 and 64 for plain ResNets;
// ResNeXt groups its 3x3 convolutions, Wide ResNet doubles their width).
struct BlockWidth {
  int64_t groups;
  int64_t width_per_group;
};

torch::nn::Conv2d conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false));
}

// torchvision's BasicBlock: two 3x3 convolutions, the first with the block's stride.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;

  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, BlockWidth /*width*/,
                 torch::nn::Sequential downsample) {
    conv1_ = register_module("conv1", conv3x3(in_planes, planes, stride));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
    relu_ = register_module("relu", torch::nn::ReLU());
    conv2_ = register_module("conv2", conv3x3(planes, planes, 1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
    if (downsample) downsample_ = register_module("downsample", std::move(downsample));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = run(relu_, run(bn1_, run(conv1_, x)));  // [N, planes, H/s, W/s]
    out = run(bn2_, run(conv2_, out));                          // [N, planes, H/s, W/s]
    const torch::Tensor identity = downsample_ ? run(downsample_, x) : x;
    return run(relu_, out + identity);  // [N, planes, H/s, W/s]
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

// torchvision's Bottleneck (ResNet V1.5): 1x1 reduce, 3x3 (grouped for ResNeXt) carrying the
// block's stride, 1x1 expand to 4 planes.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;

  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride, BlockWidth width,
                 torch::nn::Sequential downsample) {
    const int64_t inner = planes * width.width_per_group / 64 * width.groups;
    conv1_ = register_module("conv1", conv1x1(in_planes, inner, 1));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(inner));
    conv2_ = register_module("conv2", conv3x3(inner, inner, stride, width.groups));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(inner));
    conv3_ = register_module("conv3", conv1x1(inner, planes * kExpansion, 1));
    bn3_ = register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion));
    relu_ = register_module("relu", torch::nn::ReLU());
    if (downsample) downsample_ = register_module("downsample", std::move(downsample));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = run(relu_, run(bn1_, run(conv1_, x)));  // [N, inner, H, W]
    out = run(relu_, run(bn2_, run(conv2_, out)));              // [N, inner, H/s, W/s]
    out = run(bn3_, run(conv3_, out));                          // [N, 4 planes, H/s, W/s]
    const torch::Tensor identity = downsample_ ? run(downsample_, x) : x;
    return run(relu_, out + identity);  // [N, 4 planes, H/s, W/s]
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  torch::nn::BatchNorm2d bn3_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

// torchvision's ResNet._make_layer: the first block changes stride and width (through a 1x1
// `downsample` when either changes), the others keep them. Advances `in_planes`.
template <typename Block>
torch::nn::Sequential make_layer(int64_t& in_planes, int64_t planes, int64_t blocks, int64_t stride,
                                 BlockWidth width) {
  const int64_t out_planes = planes * Block::ContainedType::kExpansion;
  torch::nn::Sequential downsample{nullptr};
  if (stride != 1 || in_planes != out_planes) {
    downsample = torch::nn::Sequential(conv1x1(in_planes, out_planes, stride),
                                       torch::nn::BatchNorm2d(out_planes));
  }
  torch::nn::Sequential layer;
  layer->push_back(Block(in_planes, planes, stride, width, downsample));
  in_planes = out_planes;
  for (int64_t i = 1; i < blocks; ++i) {
    layer->push_back(Block(in_planes, planes, 1, width, torch::nn::Sequential{nullptr}));
  }
  return layer;
}

// The architectures torchvision 0.14 builds from these blocks, as data.
struct Layout {
  const char* name;
  bool bottleneck;
  std::array<int64_t, 4> blocks;
  BlockWidth width;
};
constexpr std::array<Layout, 10> kLayouts{{
    {"resnet18", false, {2, 2, 2, 2}, {1, 64}},
    {"resnet34", false, {3, 4, 6, 3}, {1, 64}},
    {"resnet50", true, {3, 4, 6, 3}, {1, 64}},
    {"resnet101", true, {3, 4, 23, 3}, {1, 64}},
    {"resnet152", true, {3, 8, 36, 3}, {1, 64}},
    {"resnext50_32x4d", true, {3, 4, 6, 3}, {32, 4}},
    {"resnext101_32x8d", true, {3, 4, 23, 3}, {32, 8}},
    {"resnext101_64x4d", true, {3, 4, 23, 3}, {64, 4}},
    {"wide_resnet50_2", true, {3, 4, 6, 3}, {1, 128}},
    {"wide_resnet101_2", true, {3, 4, 23, 3}, {1, 128}},
}};

const Layout& layout_of(const std::string& name) {
  std::string known;
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
    known += (known.empty() ? "" : ", ") + std::string(layout.name);
  }
  throw InvalidArgument("resnet: expected one of " + known + ", got '" + name + "'");
}

}  // namespace

ResNetImpl::ResNetImpl(const std::string& name, int64_t num_classes) {
  const Layout& layout = layout_of(name);
  if (num_classes < 1) {
    throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                          std::to_string(num_classes));
  }
  int64_t in_planes = 64;
  conv1_ = register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
  relu_ = register_module("relu", torch::nn::ReLU());
  maxpool_ = register_module(
      "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  const auto make = layout.bottleneck ? make_layer<Bottleneck> : make_layer<BasicBlock>;
  layer1_ = register_module("layer1", make(in_planes, 64, layout.blocks[0], 1, layout.width));
  layer2_ = register_module("layer2", make(in_planes, 128, layout.blocks[1], 2, layout.width));
  layer3_ = register_module("layer3", make(in_planes, 256, layout.blocks[2], 2, layout.width));
  layer4_ = register_module("layer4", make(in_planes, 512, layout.blocks[3], 2, layout.width));
  avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(1));

  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::constant_(bn->weight, 1);
      torch::nn::init::constant_(bn->bias, 0);
    }
  }
  // The head keeps nn.Linear's default initialisation, as torchvision's does.
  set_head("fc", in_planes, torch::nn::AnyModule(torch::nn::Linear(in_planes, num_classes)));
}

torch::Tensor ResNetImpl::features(const torch::Tensor& images) {
  torch::Tensor x = run(relu_, run(bn1_, run(conv1_, images)));  // [N, 64, H/2, W/2]
  x = run(maxpool_, x);                                          // [N, 64, H/4, W/4]
  x = run(layer1_, x);                                           // [N, 64 or 256, H/4, W/4]
  x = run(layer2_, x);                                           // [N, 128 or 512, H/8, W/8]
  x = run(layer3_, x);                                           // [N, 256 or 1024, H/16, W/16]
  x = run(layer4_, x);                                           // [N, 512 or 2048, H/32, W/32]
  x = run(avgpool_, x);                                          // [N, feature_dim, 1, 1]
  return torch::flatten(x, 1);                                   // [N, feature_dim]
}

torch::Tensor ResNetImpl::classify(const torch::Tensor& features) {
  return run_head(features);  // [N, num_classes]
}

Classifier resnet18(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnet18", options.num_classes());
}

Classifier resnet34(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnet34", options.num_classes());
}

Classifier resnet50(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnet50", options.num_classes());
}

Classifier resnet101(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnet101", options.num_classes());
}

Classifier resnet152(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnet152", options.num_classes());
}

Classifier resnext50_32x4d(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnext50_32x4d", options.num_classes());
}

Classifier resnext101_32x8d(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnext101_32x8d", options.num_classes());
}

Classifier resnext101_64x4d(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("resnext101_64x4d", options.num_classes());
}

Classifier wide_resnet50_2(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("wide_resnet50_2", options.num_classes());
}

Classifier wide_resnet101_2(const ModelOptions& options) {
  return std::make_shared<ResNetImpl>("wide_resnet101_2", options.num_classes());
}

}  // namespace xfer::models

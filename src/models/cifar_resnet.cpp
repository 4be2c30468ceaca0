// The CIFAR-10 ResNets, mirroring akamaster/pytorch_resnet_cifar10 resnet.py (the version that
// wrote its pretrained checkpoints: `conv1`, `linear`, option-A shortcuts, `_weights_init`). That
// file is modelled on torchvision's resnet.py but applies its ReLUs functionally, so no `relu`
// module appears among the paths.

#include "xfer/models/cifar_resnet.h"

#include "xfer/core/error.h"

#include <torch/nn/functional/padding.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/linear.h>

namespace xfer::models {
namespace {

torch::nn::Conv2d conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 3).stride(stride).padding(1).bias(false));
}

// The paper's option A, akamaster's LambdaLayer: every second pixel of every second row, and
// `planes / 4` zero channels on either side, so that 16 channels become 32 (32 become 64) without
// a parameter.
class OptionAShortcutImpl : public torch::nn::Module {
 public:
  explicit OptionAShortcutImpl(int64_t planes) : padding_(planes / 4) {}

  torch::Tensor forward(const torch::Tensor& x) {
    namespace F = torch::nn::functional;
    const torch::Tensor sampled = x.slice(2, 0, x.size(2), 2).slice(3, 0, x.size(3), 2);
    return F::pad(sampled, F::PadFuncOptions({0, 0, 0, 0, padding_, padding_}));
  }

 private:
  int64_t padding_;
};
TORCH_MODULE(OptionAShortcut);

class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", conv3x3(in_planes, planes, stride));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv3x3(planes, planes, 1));
    bn2_ = register_module("bn2", torch::nn::BatchNorm2d(planes));
    if (stride != 1 || in_planes != planes) {
      // akamaster registers `shortcut` in every block: its LambdaLayer here, an empty
      // Sequential (the identity) otherwise; both hold no parameter.
      projection_ = register_module("shortcut", OptionAShortcut(planes));
    } else {
      identity_ = register_module("shortcut", torch::nn::Sequential());
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = torch::relu(run(bn1_, run(conv1_, x)));  // [N, planes, H/s, W/s]
    out = run(bn2_, run(conv2_, out));                           // [N, planes, H/s, W/s]
    const torch::Tensor shortcut = projection_ ? run(projection_, x) : run(identity_, x);
    return torch::relu(out + shortcut);  // [N, planes, H/s, W/s]
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  OptionAShortcut projection_{nullptr};
  torch::nn::Sequential identity_{nullptr};
};
TORCH_MODULE(BasicBlock);

// akamaster's ResNet._make_layer.
torch::nn::Sequential make_layer(int64_t& in_planes, int64_t planes, int64_t blocks,
                                 int64_t stride) {
  torch::nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    layer->push_back(BasicBlock(in_planes, planes, i == 0 ? stride : 1));
    in_planes = planes;
  }
  return layer;
}

void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_normal_(linear.weight);
}

}  // namespace

CifarResNetImpl::CifarResNetImpl(int64_t depth, int64_t num_classes) {
  if (depth < 8 || (depth - 2) % 6 != 0) {
    throw InvalidArgument("cifar resnet: expected depth 6n+2 (20, 32, 44, 56, ...), got " +
                          std::to_string(depth));
  }
  if (num_classes < 1) {
    throw InvalidArgument("resnet" + std::to_string(depth) +
                          ": num_classes: expected at least 1, got " + std::to_string(num_classes));
  }
  const int64_t blocks = (depth - 2) / 6;
  int64_t in_planes = 16;
  conv1_ = register_module("conv1", conv3x3(3, 16, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(16));
  layer1_ = register_module("layer1", make_layer(in_planes, 16, blocks, 1));
  layer2_ = register_module("layer2", make_layer(in_planes, 32, blocks, 2));
  layer3_ = register_module("layer3", make_layer(in_planes, 64, blocks, 2));

  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight);
    }
  }
  torch::nn::Linear head(64, num_classes);
  init_linear(*head);
  set_head("linear", 64, torch::nn::AnyModule(head));
}

torch::Tensor CifarResNetImpl::features(const torch::Tensor& images) {
  torch::Tensor x = torch::relu(run(bn1_, run(conv1_, images)));  // [N, 16, H, W]
  x = run(layer1_, x);                                            // [N, 16, H, W]
  x = run(layer2_, x);                                            // [N, 32, H/2, W/2]
  x = run(layer3_, x);                                            // [N, 64, H/4, W/4]
  // akamaster pools with a kernel of the width, the whole map for its square inputs; a kernel of
  // the whole map is the same there and global pooling for any other shape too.
  x = torch::avg_pool2d(x, {x.size(2), x.size(3)});  // [N, 64, 1, 1]
  return torch::flatten(x, 1);                       // [N, 64]
}

torch::Tensor CifarResNetImpl::classify(const torch::Tensor& features) {
  return run_head(features);  // [N, num_classes]
}

void CifarResNetImpl::init_head(torch::nn::Module& head) {
  init_linear(dynamic_cast<torch::nn::LinearImpl&>(head));
}

Classifier resnet20(const ModelOptions& options) {
  return std::make_shared<CifarResNetImpl>(20, options.num_classes());
}

Classifier resnet32(const ModelOptions& options) {
  return std::make_shared<CifarResNetImpl>(32, options.num_classes());
}

Classifier resnet44(const ModelOptions& options) {
  return std::make_shared<CifarResNetImpl>(44, options.num_classes());
}

Classifier resnet56(const ModelOptions& options) {
  return std::make_shared<CifarResNetImpl>(56, options.num_classes());
}

}  // namespace xfer::models

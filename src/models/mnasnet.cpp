// MNASNet, mirroring torchvision 0.14 torchvision/models/mnasnet.py (the version-2 layout its
// weights use): the same children under the same names (`layers.8.0.layers.3`), in the same
// order, with the same initialisation. The widths are torchvision's _get_depths(alpha), kept as
// data. ReLUs are not in-place, so a tapped output keeps the value the module returned.

#include "xfer/models/mnasnet.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <array>

namespace xfer::models {
namespace {

// TensorFlow's batch-norm decay 0.9997, as PyTorch's momentum.
constexpr double kMomentum = 1 - 0.9997;

struct Layout {
  const char* name;
  std::array<int64_t, 8> depths;  // torchvision's _get_depths(alpha)
};

constexpr std::array<Layout, 4> kLayouts{{
    {"mnasnet0_5", {16, 8, 16, 24, 40, 48, 96, 160}},
    {"mnasnet0_75", {24, 16, 24, 32, 64, 72, 144, 240}},
    {"mnasnet1_0", {32, 16, 24, 40, 80, 96, 192, 320}},
    {"mnasnet1_3", {40, 24, 32, 56, 104, 128, 248, 416}},
}};

// The six stacks after the stem: kernel, stride, expansion and repeats of each (MNASNet-B1).
struct StackSpec {
  int64_t kernel;
  int64_t stride;
  int64_t expansion;
  int64_t repeats;
};
constexpr std::array<StackSpec, 6> kStacks{{
    {3, 2, 3, 3}, {5, 2, 3, 3}, {5, 2, 6, 3}, {3, 1, 6, 2}, {5, 2, 6, 4}, {3, 1, 6, 1}}};

const Layout& layout_of(const std::string& name) {
  for (const auto& layout : kLayouts) {
    if (layout.name == name) return layout;
  }
  throw InvalidArgument("mnasnet: expected mnasnet0_5, 0_75, 1_0 or 1_3, got '" + name + "'");
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(kernel / 2)
                               .groups(groups)
                               .bias(false));
}

torch::nn::BatchNorm2d norm(int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).momentum(kMomentum));
}

// torchvision's _InvertedResidual: `layers` = 1x1 expand, BN, ReLU, depthwise k x k with the
// stride, BN, ReLU, 1x1 project, BN; plus the input when the shape is kept.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expansion)
      : residual_(in == out && stride == 1) {
    const int64_t mid = in * expansion;
    layers_ = register_module(
        "layers", torch::nn::Sequential(conv(in, mid, 1, 1, 1), norm(mid), torch::nn::ReLU(),
                                        conv(mid, mid, kernel, stride, mid), norm(mid),
                                        torch::nn::ReLU(), conv(mid, out, 1, 1, 1), norm(out)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(layers_, x);  // [N, out, H/s, W/s]
    return residual_ ? y + x : y;
  }

 private:
  bool residual_;
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(InvertedResidual);

void init_linear(torch::nn::LinearImpl& linear) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(linear.weight, 0, torch::kFanOut, torch::kSigmoid);
  torch::nn::init::zeros_(linear.bias);
}

class MNASNetImpl : public ClassifierImpl {
 public:
  MNASNetImpl(const std::string& name, int64_t num_classes) {
    const auto& depths = layout_of(name).depths;
    if (num_classes < 1) {
      throw InvalidArgument(name + ": num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    layers_ = register_module("layers", detail::Stage());
    const auto add = [this](auto module) { layers_->push_back(torch::nn::AnyModule(module)); };
    add(conv(3, depths[0], 3, 2, 1));
    add(norm(depths[0]));
    add(torch::nn::ReLU());
    add(conv(depths[0], depths[0], 3, 1, depths[0]));
    add(norm(depths[0]));
    add(torch::nn::ReLU());
    add(conv(depths[0], depths[1], 1, 1, 1));
    add(norm(depths[1]));
    for (size_t s = 0; s < kStacks.size(); ++s) {
      const StackSpec& spec = kStacks[s];
      detail::Stage stack;
      for (int64_t i = 0; i < spec.repeats; ++i) {
        stack->push_back(torch::nn::AnyModule(
            InvertedResidual(i == 0 ? depths[s + 1] : depths[s + 2], depths[s + 2], spec.kernel,
                             i == 0 ? spec.stride : 1, spec.expansion)));
      }
      add(stack);
    }
    add(conv(depths[7], 1280, 1, 1, 1));
    add(norm(1280));
    add(torch::nn::ReLU());
    classifier_ = register_module("classifier", std::make_shared<torch::nn::Module>("Classifier"));
    dropout_ = classifier_->register_module("0", torch::nn::Dropout(0.2));
    torch::nn::Linear head(1280, num_classes);

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* c = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      }
    }
    init_linear(*head);
    set_head("classifier.1", 1280, torch::nn::AnyModule(head));
  }

  torch::Tensor features(const torch::Tensor& images) override {
    return run(layers_, images).mean({2, 3});  // [N, 1280, H/32, W/32] → [N, 1280]
  }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head_in(*classifier_, run(dropout_, features));  // [N, num_classes]
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    init_linear(dynamic_cast<torch::nn::LinearImpl&>(head));
  }

 private:
  detail::Stage layers_{nullptr};
  std::shared_ptr<torch::nn::Module> classifier_;
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

Classifier mnasnet0_5(const ModelOptions& options) {
  return std::make_shared<MNASNetImpl>("mnasnet0_5", options.num_classes());
}

Classifier mnasnet0_75(const ModelOptions& options) {
  return std::make_shared<MNASNetImpl>("mnasnet0_75", options.num_classes());
}

Classifier mnasnet1_0(const ModelOptions& options) {
  return std::make_shared<MNASNetImpl>("mnasnet1_0", options.num_classes());
}

Classifier mnasnet1_3(const ModelOptions& options) {
  return std::make_shared<MNASNetImpl>("mnasnet1_3", options.num_classes());
}

}  // namespace xfer::models

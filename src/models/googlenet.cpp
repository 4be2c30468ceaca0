// GoogLeNet / Inception v1 (Szegedy et al. 2014), mirroring torchvision 0.14
// torchvision/models/googlenet.py, including its known deviation from the paper: the "5x5"
// branch (branch3) uses a 3x3 convolution (https://github.com/pytorch/vision/issues/906), which is
// what torchvision's weights were trained with.

#include "xfer/models/googlenet.h"

#include "models/detail/layers.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

namespace xfer::models {
namespace {

constexpr double kDropout = 0.2;
constexpr double kAuxDropout = 0.7;
constexpr int64_t kFeatureDim = 1024;

// torchvision's init_weights for Conv2d and Linear weights (biases keep PyTorch's default).
void init_googlenet_weight(torch::Tensor& weight) {
  detail::trunc_normal_(weight, 0.0, 0.01, -2, 2);
}

using detail::BasicConv2d;

// torchvision's Inception: four branches concatenated along the channels.
class InceptionImpl : public torch::nn::Module {
 public:
  InceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3,
                int64_t ch5x5red, int64_t ch5x5, int64_t pool_proj) {
    branch1_ = register_module("branch1", BasicConv2d(in_channels, ch1x1, 1));
    branch2_ =
        register_module("branch2", torch::nn::Sequential(BasicConv2d(in_channels, ch3x3red, 1),
                                                         BasicConv2d(ch3x3red, ch3x3, 3, 1, 1)));
    // torchvision's kernel_size=3 where the paper has 5x5; see the top of this file.
    branch3_ =
        register_module("branch3", torch::nn::Sequential(BasicConv2d(in_channels, ch5x5red, 1),
                                                         BasicConv2d(ch5x5red, ch5x5, 3, 1, 1)));
    branch4_ = register_module(
        "branch4", torch::nn::Sequential(
                       torch::nn::MaxPool2d(
                           torch::nn::MaxPool2dOptions(3).stride(1).padding(1).ceil_mode(true)),
                       BasicConv2d(in_channels, pool_proj, 1)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // [N, in, H, W] → [N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W]
    return torch::cat({run(branch1_, x), run(branch2_, x), run(branch3_, x), run(branch4_, x)}, 1);
  }

 private:
  BasicConv2d branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr};
  torch::nn::Sequential branch3_{nullptr};
  torch::nn::Sequential branch4_{nullptr};
};
TORCH_MODULE(Inception);

// torchvision's InceptionAux: the auxiliary classifier on inception4a (aux1) and inception4d
// (aux2).
class InceptionAuxImpl : public torch::nn::Module {
 public:
  InceptionAuxImpl(int64_t in_channels, int64_t num_classes) {
    conv_ = register_module("conv", BasicConv2d(in_channels, 128, 1));
    fc1_ = register_module("fc1", torch::nn::Linear(2048, 1024));
    fc2_ = register_module("fc2", torch::nn::Linear(1024, num_classes));
    dropout_ = register_module("dropout", torch::nn::Dropout(kAuxDropout));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // [N, 512 (aux1) or 528 (aux2), 14, 14] at 224x224 input
    torch::Tensor y = torch::adaptive_avg_pool2d(x, {4, 4});
    // [N, 512 or 528, 4, 4]
    y = run(conv_, y).flatten(1);
    // [N, 2048]
    y = torch::relu(run(fc1_, y));
    // [N, 1024]
    y = run(dropout_, y);
    // [N, 1024] → [N, num_classes]
    return run(fc2_, y);
  }

  /// Replaces the last layer by a new one with `num_classes` outputs, initialised as torchvision.
  void reset_classes(int64_t num_classes) {
    torch::nn::Linear fc2(1024, num_classes);
    {
      torch::NoGradGuard no_grad;
      init_googlenet_weight(fc2->weight);
    }
    fc2_ = replace_module("fc2", fc2);
  }

 private:
  BasicConv2d conv_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(InceptionAux);

torch::nn::MaxPool2d ceil_max_pool(int64_t kernel_size) {
  return torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(kernel_size).stride(2).ceil_mode(true));
}

class GoogLeNetImpl : public ClassifierImpl {
 public:
  explicit GoogLeNetImpl(const ModelOptions& options)
      : transform_input_(options.transform_input()) {
    const int64_t num_classes = options.num_classes();
    conv1_ = register_module("conv1", BasicConv2d(3, 64, 7, 2, 3));
    maxpool1_ = register_module("maxpool1", ceil_max_pool(3));
    conv2_ = register_module("conv2", BasicConv2d(64, 64, 1));
    conv3_ = register_module("conv3", BasicConv2d(64, 192, 3, 1, 1));
    maxpool2_ = register_module("maxpool2", ceil_max_pool(3));
    inception3a_ = register_module("inception3a", Inception(192, 64, 96, 128, 16, 32, 32));
    inception3b_ = register_module("inception3b", Inception(256, 128, 128, 192, 32, 96, 64));
    maxpool3_ = register_module("maxpool3", ceil_max_pool(3));
    inception4a_ = register_module("inception4a", Inception(480, 192, 96, 208, 16, 48, 64));
    inception4b_ = register_module("inception4b", Inception(512, 160, 112, 224, 24, 64, 64));
    inception4c_ = register_module("inception4c", Inception(512, 128, 128, 256, 24, 64, 64));
    inception4d_ = register_module("inception4d", Inception(512, 112, 144, 288, 32, 64, 64));
    inception4e_ = register_module("inception4e", Inception(528, 256, 160, 320, 32, 128, 128));
    maxpool4_ = register_module("maxpool4", ceil_max_pool(2));
    inception5a_ = register_module("inception5a", Inception(832, 256, 160, 320, 32, 128, 128));
    inception5b_ = register_module("inception5b", Inception(832, 384, 192, 384, 48, 128, 128));
    if (options.aux_logits()) {
      aux1_ = register_module("aux1", InceptionAux(512, num_classes));
      aux2_ = register_module("aux2", InceptionAux(528, num_classes));
    }
    avgpool_ = register_module(
        "avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({1, 1})));
    dropout_ = register_module("dropout", torch::nn::Dropout(kDropout));
    set_head("fc", kFeatureDim, torch::nn::AnyModule(torch::nn::Linear(kFeatureDim, num_classes)));

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        init_googlenet_weight(conv->weight);
      } else if (auto* linear = module->as<torch::nn::Linear>()) {
        init_googlenet_weight(linear->weight);
      } else if (auto* norm = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(norm->weight);
        torch::nn::init::zeros_(norm->bias);
      }
    }
  }

  ClassifierOutput forward_full(const torch::Tensor& images) override {
    std::vector<torch::Tensor> aux_logits;
    torch::Tensor pooled =
        backbone(images, is_training() && !aux1_.is_empty() ? &aux_logits : nullptr);
    return {classify(pooled), std::move(aux_logits)};
  }

  torch::Tensor features(const torch::Tensor& images) override { return backbone(images, nullptr); }

  torch::Tensor classify(const torch::Tensor& features) override {
    // [N, 1024] → [N, num_classes]
    return run_head(run(dropout_, features));
  }

  // The auxiliary classifiers predict the same classes as the head, so they follow it.
  void reset_head(int64_t num_classes) override {
    ClassifierImpl::reset_head(num_classes);
    if (aux1_.is_empty()) return;
    aux1_->reset_classes(num_classes);
    aux2_->reset_classes(num_classes);
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    init_googlenet_weight(head.as<torch::nn::Linear>()->weight);
  }

 private:

  // Pooled features; when `aux_logits` is given, also the auxiliary logits: aux1 then aux2, the
  // positional order of torchvision 0.14's GoogLeNetOutputs (whose field names are swapped).
  torch::Tensor backbone(const torch::Tensor& images, std::vector<torch::Tensor>* aux_logits) {
    // Shapes at a 224x224 input.
    torch::Tensor x = transform_input_ ? detail::imagenet_to_inception_input(images) : images;
    // [N, 3, 224, 224]
    x = run(conv1_, x);
    // [N, 64, 112, 112]
    x = run(maxpool1_, x);
    // [N, 64, 56, 56]
    x = run(conv2_, x);
    // [N, 64, 56, 56]
    x = run(conv3_, x);
    // [N, 192, 56, 56]
    x = run(maxpool2_, x);
    // [N, 192, 28, 28]
    x = run(inception3a_, x);
    // [N, 256, 28, 28]
    x = run(inception3b_, x);
    // [N, 480, 28, 28]
    x = run(maxpool3_, x);
    // [N, 480, 14, 14]
    x = run(inception4a_, x);
    // [N, 512, 14, 14]
    torch::Tensor aux1;
    if (aux_logits != nullptr) aux1 = run(aux1_, x);
    x = run(inception4b_, x);
    // [N, 512, 14, 14]
    x = run(inception4c_, x);
    // [N, 512, 14, 14]
    x = run(inception4d_, x);
    // [N, 528, 14, 14]
    if (aux_logits != nullptr) *aux_logits = {aux1, run(aux2_, x)};
    x = run(inception4e_, x);
    // [N, 832, 14, 14]
    x = run(maxpool4_, x);
    // [N, 832, 7, 7]
    x = run(inception5a_, x);
    // [N, 832, 7, 7]
    x = run(inception5b_, x);
    // [N, 1024, 7, 7]
    x = run(avgpool_, x).flatten(1);
    // [N, 1024]
    return x;
  }

  bool transform_input_;
  BasicConv2d conv1_{nullptr};
  torch::nn::MaxPool2d maxpool1_{nullptr};
  BasicConv2d conv2_{nullptr};
  BasicConv2d conv3_{nullptr};
  torch::nn::MaxPool2d maxpool2_{nullptr};
  Inception inception3a_{nullptr};
  Inception inception3b_{nullptr};
  torch::nn::MaxPool2d maxpool3_{nullptr};
  Inception inception4a_{nullptr};
  Inception inception4b_{nullptr};
  Inception inception4c_{nullptr};
  Inception inception4d_{nullptr};
  Inception inception4e_{nullptr};
  torch::nn::MaxPool2d maxpool4_{nullptr};
  Inception inception5a_{nullptr};
  Inception inception5b_{nullptr};
  InceptionAux aux1_{nullptr};
  InceptionAux aux2_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

Classifier googlenet(const ModelOptions& options) {
  return std::make_shared<GoogLeNetImpl>(options);
}

}  // namespace xfer::models

// Inception v3, mirroring torchvision 0.14 torchvision/models/inception.py (init_weights=True):
// the same children under the same names, in the same order, with the same initialisation. The
// pooling branches' F.avg_pool2d and F.max_pool2d are functional there, as here, so they are not
// taps; BasicConv2d's ReLU is functional and out of place, so a tapped `bn` keeps its output.

#include "xfer/models/inception.h"

#include "models/detail/layers.h"
#include "xfer/core/error.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <array>
#include <vector>

namespace xfer::models {
namespace {

constexpr int64_t kFeatureDim = 2048;
// The side AuxLogits needs of Mixed_6e's output: its 5x5 stride-3 average pool, then a 5x5
// convolution without padding.
constexpr int64_t kAuxMinSide = 17;

using detail::BasicConv2d;

// A BasicConv2d of kh x kw with padding ph x pw: the factorised 1x7, 7x1, 1x3 and 3x1 ones.
BasicConv2d oblong(int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t ph, int64_t pw) {
  return BasicConv2d(in, out, torch::ExpandingArray<2>({kh, kw}), 1,
                     torch::ExpandingArray<2>({ph, pw}));
}

BasicConv2d square(int64_t in, int64_t out, int64_t kernel, int64_t padding = 0,
                   int64_t stride = 1) {
  return BasicConv2d(in, out, kernel, stride, padding);
}

torch::Tensor same_average(const torch::Tensor& x) {
  return torch::avg_pool2d(x, 3, 1, 1);  // [N, C, H, W]
}

torch::Tensor halving_max(const torch::Tensor& x) {
  return torch::max_pool2d(x, 3, 2);  // [N, C, (H-3)/2+1, (W-3)/2+1]
}

// A module whose branches are BasicConv2d chains registered under torchvision's names.
class BranchesModule : public torch::nn::Module {
 protected:
  BasicConv2d add(const std::string& name, BasicConv2d conv) {
    return register_module(name, std::move(conv));
  }
};

// InceptionA: 1x1; 1x1 → 5x5; 1x1 → 3x3 → 3x3; 3x3 average pool → 1x1.
class InceptionAImpl : public BranchesModule {
 public:
  InceptionAImpl(int64_t in, int64_t pool_features)
      : b1_(add("branch1x1", square(in, 64, 1))),
        b5_1_(add("branch5x5_1", square(in, 48, 1))),
        b5_2_(add("branch5x5_2", square(48, 64, 5, 2))),
        b3_1_(add("branch3x3dbl_1", square(in, 64, 1))),
        b3_2_(add("branch3x3dbl_2", square(64, 96, 3, 1))),
        b3_3_(add("branch3x3dbl_3", square(96, 96, 3, 1))),
        pool_(add("branch_pool", square(in, pool_features, 1))) {}

  // [N, in, H, W] → [N, 224 + pool_features, H, W]
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({run(b1_, x), run(b5_2_, run(b5_1_, x)),
                       run(b3_3_, run(b3_2_, run(b3_1_, x))), run(pool_, same_average(x))},
                      1);
  }

 private:
  BasicConv2d b1_, b5_1_, b5_2_, b3_1_, b3_2_, b3_3_, pool_;
};
TORCH_MODULE(InceptionA);

// InceptionB (grid reduction): 3x3/2; 1x1 → 3x3 → 3x3/2; 3x3/2 max pool.
class InceptionBImpl : public BranchesModule {
 public:
  explicit InceptionBImpl(int64_t in)
      : b3_(add("branch3x3", square(in, 384, 3, 0, 2))),
        d1_(add("branch3x3dbl_1", square(in, 64, 1))),
        d2_(add("branch3x3dbl_2", square(64, 96, 3, 1))),
        d3_(add("branch3x3dbl_3", square(96, 96, 3, 0, 2))) {}

  // [N, in, H, W] → [N, 480 + in, (H-3)/2+1, (W-3)/2+1]
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({run(b3_, x), run(d3_, run(d2_, run(d1_, x))), halving_max(x)}, 1);
  }

 private:
  BasicConv2d b3_, d1_, d2_, d3_;
};
TORCH_MODULE(InceptionB);

// InceptionC: 1x1; 1x1 → 1x7 → 7x1; 1x1 → 7x1 → 1x7 → 7x1 → 1x7; average pool → 1x1.
class InceptionCImpl : public BranchesModule {
 public:
  InceptionCImpl(int64_t in, int64_t c7)
      : b1_(add("branch1x1", square(in, 192, 1))),
        s1_(add("branch7x7_1", square(in, c7, 1))),
        s2_(add("branch7x7_2", oblong(c7, c7, 1, 7, 0, 3))),
        s3_(add("branch7x7_3", oblong(c7, 192, 7, 1, 3, 0))),
        d1_(add("branch7x7dbl_1", square(in, c7, 1))),
        d2_(add("branch7x7dbl_2", oblong(c7, c7, 7, 1, 3, 0))),
        d3_(add("branch7x7dbl_3", oblong(c7, c7, 1, 7, 0, 3))),
        d4_(add("branch7x7dbl_4", oblong(c7, c7, 7, 1, 3, 0))),
        d5_(add("branch7x7dbl_5", oblong(c7, 192, 1, 7, 0, 3))),
        pool_(add("branch_pool", square(in, 192, 1))) {}

  // [N, in, H, W] → [N, 768, H, W]
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor single = run(s3_, run(s2_, run(s1_, x)));
    const torch::Tensor twice = run(d5_, run(d4_, run(d3_, run(d2_, run(d1_, x)))));
    return torch::cat({run(b1_, x), single, twice, run(pool_, same_average(x))}, 1);
  }

 private:
  BasicConv2d b1_, s1_, s2_, s3_, d1_, d2_, d3_, d4_, d5_, pool_;
};
TORCH_MODULE(InceptionC);

// InceptionD (grid reduction): 1x1 → 3x3/2; 1x1 → 1x7 → 7x1 → 3x3/2; 3x3/2 max pool.
class InceptionDImpl : public BranchesModule {
 public:
  explicit InceptionDImpl(int64_t in)
      : a1_(add("branch3x3_1", square(in, 192, 1))),
        a2_(add("branch3x3_2", square(192, 320, 3, 0, 2))),
        b1_(add("branch7x7x3_1", square(in, 192, 1))),
        b2_(add("branch7x7x3_2", oblong(192, 192, 1, 7, 0, 3))),
        b3_(add("branch7x7x3_3", oblong(192, 192, 7, 1, 3, 0))),
        b4_(add("branch7x7x3_4", square(192, 192, 3, 0, 2))) {}

  // [N, in, H, W] → [N, 512 + in, (H-3)/2+1, (W-3)/2+1]
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat(
        {run(a2_, run(a1_, x)), run(b4_, run(b3_, run(b2_, run(b1_, x)))), halving_max(x)}, 1);
  }

 private:
  BasicConv2d a1_, a2_, b1_, b2_, b3_, b4_;
};
TORCH_MODULE(InceptionD);

// InceptionE: 1x1; 1x1 → (1x3 | 3x1); 1x1 → 3x3 → (1x3 | 3x1); average pool → 1x1.
class InceptionEImpl : public BranchesModule {
 public:
  explicit InceptionEImpl(int64_t in)
      : b1_(add("branch1x1", square(in, 320, 1))),
        s1_(add("branch3x3_1", square(in, 384, 1))),
        s2a_(add("branch3x3_2a", oblong(384, 384, 1, 3, 0, 1))),
        s2b_(add("branch3x3_2b", oblong(384, 384, 3, 1, 1, 0))),
        d1_(add("branch3x3dbl_1", square(in, 448, 1))),
        d2_(add("branch3x3dbl_2", square(448, 384, 3, 1))),
        d3a_(add("branch3x3dbl_3a", oblong(384, 384, 1, 3, 0, 1))),
        d3b_(add("branch3x3dbl_3b", oblong(384, 384, 3, 1, 1, 0))),
        pool_(add("branch_pool", square(in, 192, 1))) {}

  // [N, in, H, W] → [N, 2048, H, W]
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor single = run(s1_, x);
    const torch::Tensor twice = run(d2_, run(d1_, x));
    return torch::cat({run(b1_, x), torch::cat({run(s2a_, single), run(s2b_, single)}, 1),
                       torch::cat({run(d3a_, twice), run(d3b_, twice)}, 1),
                       run(pool_, same_average(x))},
                      1);
  }

 private:
  BasicConv2d b1_, s1_, s2a_, s2b_, d1_, d2_, d3a_, d3b_, pool_;
};
TORCH_MODULE(InceptionE);

void init_weight(torch::Tensor& weight, double stddev) {
  detail::trunc_normal_(weight, 0.0, stddev, -2, 2);
}

// InceptionAux: 5x5/3 average pool, 1x1 conv0 to 128, 5x5 conv1 to 768, global average pool, fc.
class InceptionAuxImpl : public torch::nn::Module {
 public:
  InceptionAuxImpl(int64_t in, int64_t num_classes)
      : conv0_(register_module("conv0", square(in, 128, 1))),
        conv1_(register_module("conv1", square(128, 768, 5))),
        fc_(register_module("fc", torch::nn::Linear(768, num_classes))) {}

  // Mixed_6e's output [N, 768, H, W], H, W >= 17 → [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = run(conv1_, run(conv0_, torch::avg_pool2d(x, 5, 3)));  // [N, 768, h, w]
    return run(fc_, torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }

  /// Replaces `fc` by a new one with `num_classes` outputs, initialised as torchvision.
  void reset_classes(int64_t num_classes) {
    torch::nn::Linear fc(768, num_classes);
    {
      torch::NoGradGuard no_grad;
      init_weight(fc->weight, 0.001);
    }
    fc_ = replace_module("fc", fc);
  }

 private:
  BasicConv2d conv0_;
  BasicConv2d conv1_;
  torch::nn::Linear fc_;
};
TORCH_MODULE(InceptionAux);

class Inception3Impl : public ClassifierImpl {
 public:
  explicit Inception3Impl(const ModelOptions& options)
      : transform_input_(options.transform_input()) {
    const int64_t num_classes = options.num_classes();
    if (num_classes < 1) {
      throw InvalidArgument("inception_v3: num_classes: expected at least 1, got " +
                            std::to_string(num_classes));
    }
    stem_ = {register_module("Conv2d_1a_3x3", square(3, 32, 3, 0, 2)),
             register_module("Conv2d_2a_3x3", square(32, 32, 3)),
             register_module("Conv2d_2b_3x3", square(32, 64, 3, 1))};
    maxpool1_ = register_module("maxpool1",
                                torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)));
    stem2_ = {register_module("Conv2d_3b_1x1", square(64, 80, 1)),
              register_module("Conv2d_4a_3x3", square(80, 192, 3))};
    maxpool2_ = register_module("maxpool2",
                                torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2)));
    mixed5_ = {register_module("Mixed_5b", InceptionA(192, 32)),
               register_module("Mixed_5c", InceptionA(256, 64)),
               register_module("Mixed_5d", InceptionA(288, 64))};
    mixed6a_ = register_module("Mixed_6a", InceptionB(288));
    mixed6_ = {register_module("Mixed_6b", InceptionC(768, 128)),
               register_module("Mixed_6c", InceptionC(768, 160)),
               register_module("Mixed_6d", InceptionC(768, 160)),
               register_module("Mixed_6e", InceptionC(768, 192))};
    if (options.aux_logits()) aux_ = register_module("AuxLogits", InceptionAux(768, num_classes));
    mixed7a_ = register_module("Mixed_7a", InceptionD(768));
    mixed7_ = {register_module("Mixed_7b", InceptionE(1280)),
               register_module("Mixed_7c", InceptionE(2048))};
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(1));
    dropout_ = register_module("dropout", torch::nn::Dropout(0.5));
    set_head("fc", kFeatureDim,
             torch::nn::AnyModule(torch::nn::Linear(kFeatureDim, num_classes)));

    torch::NoGradGuard no_grad;
    for (const auto& module : modules(/*include_self=*/false)) {
      // torchvision reads a `stddev` attribute of the Conv2d or Linear itself: AuxLogits.fc has
      // one (0.001); the 0.01 it puts on AuxLogits.conv1, a BasicConv2d, never reaches its Conv2d.
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        init_weight(conv->weight, 0.1);
      } else if (auto* linear = module->as<torch::nn::Linear>()) {
        init_weight(linear->weight, module.get() == aux_fc() ? 0.001 : 0.1);
      } else if (auto* norm = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(norm->weight);
        torch::nn::init::zeros_(norm->bias);
      }
    }
  }

  ClassifierOutput forward_full(const torch::Tensor& images) override {
    std::vector<torch::Tensor> aux_logits;
    torch::Tensor pooled = backbone(images, is_training() && aux_ ? &aux_logits : nullptr);
    return {classify(pooled), std::move(aux_logits)};
  }

  torch::Tensor features(const torch::Tensor& images) override { return backbone(images, nullptr); }

  torch::Tensor classify(const torch::Tensor& features) override {
    return run_head(run(dropout_, features));  // [N, 2048] → [N, num_classes]
  }

  // The auxiliary classifier predicts the same classes as the head, so it follows it.
  void reset_head(int64_t num_classes) override {
    ClassifierImpl::reset_head(num_classes);
    if (aux_) aux_->reset_classes(num_classes);
  }

 protected:
  void init_head(torch::nn::Module& head) override {
    torch::NoGradGuard no_grad;
    init_weight(head.as<torch::nn::Linear>()->weight, 0.1);
  }

 private:
  const torch::nn::Module* aux_fc() const {
    return aux_ ? aux_->named_modules()["fc"].get() : nullptr;
  }


  // Pooled features [N, 2048]; when `aux_logits` is given, also AuxLogits' output on Mixed_6e.
  torch::Tensor backbone(const torch::Tensor& images, std::vector<torch::Tensor>* aux_logits) {
    // Shapes at a 299x299 input.
    torch::Tensor x = transform_input_ ? detail::imagenet_to_inception_input(images) : images;
    for (auto& conv : stem_) x = run(conv, x);   // [N, 64, 147, 147]
    x = run(maxpool1_, x);                         // [N, 64, 73, 73]
    for (auto& conv : stem2_) x = run(conv, x);  // [N, 192, 71, 71]
    x = run(maxpool2_, x);                         // [N, 192, 35, 35]
    for (auto& block : mixed5_) x = run(block, x);  // [N, 288, 35, 35]
    x = run(mixed6a_, x);                           // [N, 768, 17, 17]
    for (auto& block : mixed6_) x = run(block, x);  // [N, 768, 17, 17]
    if (aux_logits != nullptr) {
      if (x.size(2) < kAuxMinSide || x.size(3) < kAuxMinSide) {
        throw InvalidArgument(
            "inception_v3: its auxiliary classifier needs Mixed_6e's output of at least 17x17, "
            "which 299 px images give; got " + std::to_string(x.size(2)) + "x" +
            std::to_string(x.size(3)) + " from " + std::to_string(images.size(2)) + "x" +
            std::to_string(images.size(3)) + " images (train at 299 px, or without aux_logits)");
      }
      aux_logits->push_back(run(aux_, x));
    }
    x = run(mixed7a_, x);                           // [N, 1280, 8, 8]
    for (auto& block : mixed7_) x = run(block, x);  // [N, 2048, 8, 8]
    return run(avgpool_, x).flatten(1);             // [N, 2048]
  }

  bool transform_input_;
  std::array<BasicConv2d, 3> stem_{nullptr, nullptr, nullptr};
  torch::nn::MaxPool2d maxpool1_{nullptr};
  std::array<BasicConv2d, 2> stem2_{nullptr, nullptr};
  torch::nn::MaxPool2d maxpool2_{nullptr};
  std::array<InceptionA, 3> mixed5_{nullptr, nullptr, nullptr};
  InceptionB mixed6a_{nullptr};
  std::array<InceptionC, 4> mixed6_{nullptr, nullptr, nullptr, nullptr};
  InceptionAux aux_{nullptr};
  InceptionD mixed7a_{nullptr};
  std::array<InceptionE, 2> mixed7_{nullptr, nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

Classifier inception_v3(const ModelOptions& options) {
  return std::make_shared<Inception3Impl>(options);
}

}  // namespace xfer::models

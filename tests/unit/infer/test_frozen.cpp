// The fused inference path: for every architecture of the zoo its features equal the model's
// eager features (fp32 within 1e-4 of their largest magnitude), batch norm is folded away, bf16
// stays close, and a model the tracer cannot record falls back to eager.

#include "xfer/infer/frozen.h"
#include "xfer/models/registry.h"

#include "support/compare.h"
#include "support/fill.h"

#include <gtest/gtest.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/torch.h>

#include <algorithm>

namespace {

using xfer::Precision;
using xfer::infer::FrozenBackbone;
using xfer::infer::FrozenOptions;
using xfer::testing::all_close;

// `name` with closed-form weights (batch norm statistics far from the identity, so that folding
// changes the weights), in eval mode.
xfer::models::Classifier filled(const std::string& name) {
  auto model = xfer::models::create_model(name);
  xfer::testing::fill_closed_form(*model);
  model->eval();
  return model;
}

// `name` filled as filled() does, then its batch norms' running statistics set to those of eight
// 128 px (MaxViT: 224 px) closed-form images (one training-mode pass at momentum 1), in eval
// mode: every layer then sees inputs of order 1, as in a trained network. The fill alone lets
// the residual sums of the deeper EfficientNets grow to 1e10, and statistics of the few pixels a
// 64 px batch has at stride 32 leave channels of variance near 0 whose gains grow as large:
// either way rounding differences of the folded weights grow with them (torch.jit's own folding
// too).
xfer::models::Classifier calibrated(const std::string& name) {
  auto model = filled(name);
  torch::NoGradGuard no_grad;
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (auto* norm = module->as<torch::nn::BatchNorm2d>()) norm->options.momentum(1.0);
  }
  model->train();
  // features(), not forward(): Inception v3's auxiliary classifier does not fit 128 px. MaxViT
  // takes multiples of 224 only.
  const int64_t side = std::max<int64_t>(128, xfer::models::find_model(name).size_multiple);
  model->features(xfer::testing::closed_form_images(8, side, side));
  model->eval();
  return model;
}

// The side each architecture is compared at: small, but large enough for every pooling stage.
int64_t side_of(const xfer::models::ModelInfo& info) {
  return info.input.size <= 32 ? 32 : std::max<int64_t>(64, info.min_size);
}

int64_t count(const torch::jit::Graph& graph, const char* kind) {
  int64_t n = 0;
  for (const torch::jit::Node* node : graph.nodes())
    n += node->kind().toQualString() == std::string(kind);
  return n;
}

// Largest magnitude of `t`, the scale the tolerances are relative to.
double scale_of(const torch::Tensor& t) { return t.abs().max().item<double>(); }

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const auto& info : xfer::models::all_models()) names.push_back(info.name);
  return names;
}

// One test per architecture, so CTest runs them side by side and each has its own time limit.
class EveryArchitecture : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryArchitecture, FrozenGivesTheEagerFeaturesInFp32) {
  const auto& info = xfer::models::find_model(GetParam());
  const int64_t side = side_of(info);
  const auto images = xfer::testing::closed_form_images(3, side, side);
  auto model = info.input.size <= 32 ? filled(info.name) : calibrated(info.name);
  torch::NoGradGuard no_grad;
  const auto expected = model->features(images);  // [3, F]
  FrozenBackbone frozen(*model, FrozenOptions{});
  const auto actual = frozen.features(images);
  EXPECT_EQ(frozen.fallback(), "");
  EXPECT_EQ(actual.scalar_type(), torch::kFloat);
  // Folding each batch norm into its convolution rounds the weights anew, and the differences
  // add up through depth: 1e-4 of the features' scale, 1e-3 past 100 convolutions (resnet152's
  // 155: 3.4e-4 measured). A wrong fold is off by the order of the features themselves.
  int64_t convolutions = 0;
  for (const auto& module : model->modules(/*include_self=*/false)) {
    convolutions += module->as<torch::nn::Conv2d>() != nullptr;
  }
  const double tolerance = convolutions > 100 ? 1e-3 : 1e-4;
  EXPECT_TRUE(all_close(actual, expected, tolerance, tolerance * scale_of(expected)))
      << convolutions << " convolutions";
  // In channels_last (the default at 224 px) the convolutions run on oneDNN with their
  // activations and residual additions fused: the same tolerance.
  xfer::set_layout(*model, xfer::Layout::kChannelsLast);
  FrozenBackbone channels_last(*model, FrozenOptions{});
  const auto fused = channels_last.features(xfer::to_layout(images, xfer::Layout::kChannelsLast));
  EXPECT_EQ(channels_last.fallback(), "");
  EXPECT_TRUE(all_close(fused, expected, tolerance, tolerance * scale_of(expected)))
      << convolutions << " convolutions, channels_last";
}

INSTANTIATE_TEST_SUITE_P(Zoo, EveryArchitecture, ::testing::ValuesIn(zoo_names()),
                         [](const auto& info) { return info.param; });

// SqueezeNet's own head classifies the map, not the pooled features: logits() runs its forward.
TEST(FrozenBackbone, LogitsAreTheModelsForwardWhateverItsHeadTakes) {
  auto model = filled("squeezenet1_1");
  model->eval();
  const auto images = xfer::testing::closed_form_images(2, 64, 64);
  torch::NoGradGuard no_grad;
  ASSERT_FALSE(model->classifies_features());
  const auto own = model->forward(images);  // [2, 1000]
  EXPECT_TRUE(all_close(FrozenBackbone(*model, FrozenOptions{}).logits(images), own, 1e-5,
                        1e-5 * scale_of(own)));
  model->reset_head(4);
  const auto linear = model->forward(images);  // [2, 4]
  FrozenBackbone frozen(*model, FrozenOptions{});
  EXPECT_TRUE(all_close(frozen.logits(images), linear, 1e-4, 1e-4 * scale_of(linear)));
  EXPECT_EQ(frozen.fallback(), "");
}

TEST(FrozenBackbone, FoldsEveryBatchNormIntoItsConvolution) {
  for (const std::string name : {"resnet18", "mobilenet_v2", "mobilenet_v3_large", "googlenet"}) {
    SCOPED_TRACE(name);
    auto model = filled(name);
    const auto images = xfer::testing::closed_form_images(2, 64, 64);
    const auto graph = xfer::infer::fold_for_inference(*model, images, Precision::kFloat32);
    EXPECT_EQ(count(*graph, "aten::batch_norm"), 0);
    EXPECT_GT(count(*graph, "aten::conv2d"), 10);
  }
}

// In channels_last every convolution runs on oneDNN, with the addition and the activation after
// it (ReLU, ReLU6, hardswish, hardsigmoid, SiLU, sigmoid) as its post-ops: no addition is left
// in these four, and no such activation takes a convolution's output.
TEST(FrozenBackbone, ChannelsLastConvolutionsTakeTheirActivationsAndAdditions) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> absorbed{
      {"resnet18", {"aten::relu", "aten::relu_", "aten::add", "aten::add_"}},
      {"mobilenet_v2", {"aten::hardtanh", "aten::hardtanh_", "aten::add", "aten::add_"}},
      {"mobilenet_v3_large", {"aten::hardswish", "aten::hardswish_", "aten::hardsigmoid"}},
      {"efficientnet_b0", {"aten::silu", "aten::silu_", "aten::sigmoid"}},
  };
  for (const auto& [name, kinds] : absorbed) {
    SCOPED_TRACE(name);
    auto model = filled(name);
    xfer::set_layout(*model, xfer::Layout::kChannelsLast);
    const auto images =
        xfer::to_layout(xfer::testing::closed_form_images(2, 64, 64), xfer::Layout::kChannelsLast);
    for (const Precision precision : {Precision::kFloat32, Precision::kBFloat16}) {
      // oneDNN has bf16 convolutions only where bf16 is native (AVX-512 and up); elsewhere
      // LibTorch's stay, and xfer's default there is fp32.
      if (precision == Precision::kBFloat16 && !xfer::has_native_bf16(c10::Device(c10::kCPU))) {
        continue;
      }
      const auto graph = xfer::infer::fold_for_inference(*model, images, precision);
      EXPECT_EQ(count(*graph, "aten::conv2d"), 0);
      EXPECT_GT(count(*graph, "xfer::conv2d_post"), 10);
      for (const torch::jit::Node* node : graph->nodes()) {
        const std::string kind = node->kind().toQualString();
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
        // mobilenet_v3's features end in a Linear and its hardswish, which stay as they are.
        const bool adds = kind.rfind("aten::add", 0) == 0;
        EXPECT_TRUE(!adds && node->input(0)->node()->kind().toQualString() !=
                                 std::string("xfer::conv2d_post"))
            << kind << " left after a convolution";
      }
    }
  }
}

// Every Linear layer with constant weights runs as oneDNN's matmul with the GELU after it fused,
// whatever the layout (ConvNeXt's and Swin's MLPs).
TEST(FrozenBackbone, LinearLayersTakeTheirActivations) {
  for (const std::string name : {"convnext_tiny", "swin_t"}) {
    SCOPED_TRACE(name);
    auto model = filled(name);
    const auto images = xfer::testing::closed_form_images(2, 64, 64);
    const auto graph = xfer::infer::fold_for_inference(*model, images, Precision::kFloat32);
    EXPECT_EQ(count(*graph, "aten::gelu"), 0);
    EXPECT_EQ(count(*graph, "aten::linear") + count(*graph, "aten::addmm"), 0);
    EXPECT_GE(count(*graph, "xfer::linear_post"), 2 * 12);  // two per block, 12 blocks or more
  }
}

TEST(FrozenBackbone, ChannelsLastAndNewBatchSizesGiveTheEagerFeatures) {
  auto model = filled("mobilenet_v3_small");
  xfer::set_layout(*model, xfer::Layout::kChannelsLast);
  FrozenBackbone frozen(*model, FrozenOptions{});
  torch::NoGradGuard no_grad;
  // Six shapes: more than the four kept, and the first one again after it was dropped.
  for (const int64_t n : {2, 3, 1, 5, 4, 2}) {
    SCOPED_TRACE(n);
    const auto images =
        xfer::to_layout(xfer::testing::closed_form_images(n, 64, 64), xfer::Layout::kChannelsLast);
    const auto expected = model->features(images);
    EXPECT_TRUE(all_close(frozen.features(images), expected, 1e-4, 1e-4 * scale_of(expected)));
  }
  EXPECT_EQ(frozen.fallback(), "");
}

TEST(FrozenBackbone, LeavesTheModelsModesAndGradientsAsTheyWere) {
  auto model = filled("resnet18");
  model->train();
  // As a fine-tune leaves it: frozen batch norms in eval inside a training model.
  std::vector<bool> modes;
  for (const auto& item : model->named_modules()) {
    if (item.key().find("bn") != std::string::npos) item.value()->eval();
  }
  for (const auto& module : model->modules()) modes.push_back(module->is_training());
  FrozenBackbone frozen(*model, FrozenOptions{});
  const auto images = xfer::testing::closed_form_images(2, 64, 64);
  const auto features = frozen.features(images);
  std::vector<bool> after;
  for (const auto& module : model->modules()) after.push_back(module->is_training());
  EXPECT_EQ(after, modes);
  EXPECT_TRUE(model->is_training());
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(features.requires_grad());
  // Training mode did not leak into the features: they are eval-mode batch norm's.
  model->eval();
  torch::NoGradGuard no_grad;
  const auto expected = model->features(images);
  EXPECT_TRUE(all_close(features, expected, 1e-4, 1e-4 * scale_of(expected)));
}

// Whether every use of `value` is a layer norm.
bool only_layer_norms_use(const torch::jit::Value* value) {
  for (const auto& use : value->uses()) {
    if (use.user->kind() != c10::aten::layer_norm) return false;
  }
  return true;
}

// In bf16 but the layer norms and SiLUs, which run in fp32 (their input converted, a layer
// norm's weights kept).
TEST(FrozenBackbone, Bf16RunsTheWholePassInBf16CloseToFp32) {
  for (const std::string name :
       {"resnet18", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "swin_t"}) {
    SCOPED_TRACE(name);
    auto model = filled(name);
    const auto images = xfer::testing::closed_form_images(2, 64, 64);
    const auto graph = xfer::infer::fold_for_inference(*model, images, Precision::kBFloat16);
    int64_t in_fp32 = 0;
    for (const torch::jit::Node* node : graph->nodes()) {
      if (node->kind() == c10::aten::layer_norm || node->kind() == c10::aten::silu) {
        ++in_fp32;
        EXPECT_EQ(node->input(0)->node()->kind(), c10::aten::to);
        continue;
      }
      if (node->kind() != c10::prim::Constant || !node->output()->type()->cast<c10::TensorType>()) {
        continue;
      }
      const auto value = node->t(c10::attr::value);
      if (value.is_floating_point()) {
        EXPECT_EQ(value.scalar_type(),
                  only_layer_norms_use(node->output()) ? torch::kFloat : torch::kBFloat16);
      }
    }
    EXPECT_EQ(in_fp32 > 0, name != "resnet18" && name != "mobilenet_v2");
    // Where bf16 is emulated it is not xfer's default, and oneDNN capped below AVX-512
    // (DNNL_MAX_CPU_ISA=AVX2 on an AVX-512 CPU) refuses bf16 convolutions that LibTorch still
    // sends it: the passes are compared where bf16 is native.
    if (!xfer::has_native_bf16(c10::Device(c10::kCPU))) continue;
    torch::NoGradGuard no_grad;
    const auto expected = model->features(images);
    FrozenBackbone frozen(*model, FrozenOptions{Precision::kBFloat16, true, {}});
    const auto actual = frozen.features(images);
    EXPECT_EQ(actual.scalar_type(), torch::kFloat);
    EXPECT_EQ(frozen.fallback(), "");
    const auto error = [&](const torch::Tensor& actual_features) {
      return ((actual_features - expected).norm() / expected.norm()).item<double>();
    };
    // The yardstick: LibTorch's own bf16, autocast over the eager pass.
    FrozenBackbone autocast(*model, FrozenOptions{Precision::kBFloat16, false, {}});
    const double autocast_error = error(autocast.features(images));
    const double relative = error(actual);
    std::cout << name << ": relative error of bf16, fused " << relative << ", autocast "
              << autocast_error << "\n";
    EXPECT_LT(relative, 1.5 * autocast_error);
    EXPECT_GT(relative, 0.0);  // really computed in bf16
    // In channels_last the convolutions run on oneDNN in bf16, their post-ops in fp32.
    xfer::set_layout(*model, xfer::Layout::kChannelsLast);
    FrozenBackbone channels_last(*model, FrozenOptions{Precision::kBFloat16, true, {}});
    const double relative_cl = error(
        channels_last.features(xfer::to_layout(images, xfer::Layout::kChannelsLast)));
    std::cout << name << ": relative error of bf16 in channels_last, fused " << relative_cl
              << "\n";
    EXPECT_EQ(channels_last.fallback(), "");
    EXPECT_LT(relative_cl, 1.5 * autocast_error);
    EXPECT_GT(relative_cl, 0.0);
  }
}

TEST(FrozenBackbone, NoFuseIsTheEagerPassBitForBit) {
  auto model = filled("mobilenet_v2");
  const auto images = xfer::testing::closed_form_images(2, 64, 64);
  torch::NoGradGuard no_grad;
  FrozenBackbone eager(*model, FrozenOptions{Precision::kFloat32, false, {}});
  EXPECT_TRUE(torch::equal(eager.features(images), model->features(images)));
}

// An architecture whose features() the tracer cannot record (here: it refuses while traced).
class Untraceable : public xfer::models::ClassifierImpl {
 public:
  torch::Tensor features(const torch::Tensor& images) override {
    if (torch::jit::tracer::isTracing()) throw std::runtime_error("data-dependent control flow");
    return images.mean({2, 3});  // [N, 3]
  }
  torch::Tensor classify(const torch::Tensor& features) override { return features; }
};

TEST(FrozenBackbone, AModelTheTracerCannotRecordFallsBackToEagerAndSaysWhy) {
  Untraceable model;
  std::vector<std::string> told;
  FrozenBackbone frozen(model, FrozenOptions{Precision::kFloat32, true,
                                             [&](const std::string& m) { told.push_back(m); }});
  const auto images = xfer::testing::closed_form_images(2, 8, 8);
  EXPECT_TRUE(torch::equal(frozen.features(images), images.mean({2, 3})));
  const std::string why =
      "fused path: tracing and folding the backbone failed (data-dependent control flow); eager "
      "from now on";
  EXPECT_EQ(frozen.fallback(), why);
  // Another shape: still eager, and nothing told twice.
  const auto more = xfer::testing::closed_form_images(3, 8, 8);
  EXPECT_TRUE(torch::equal(frozen.features(more), more.mean({2, 3})));
  EXPECT_EQ(told, std::vector<std::string>{why});
}

}  // namespace

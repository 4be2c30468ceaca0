// The registry and the behaviour every architecture of the zoo shares.

#include "xfer/core/error.h"
#include "xfer/models/registry.h"

#include "support/compare.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>

namespace {

using xfer::testing::all_close;
using xfer::models::all_models;
using xfer::models::create_model;
using xfer::models::find_model;
using xfer::models::ModelOptions;

TEST(Registry, ListsEveryModelOfTheZoo) {
  std::vector<std::string> names;
  for (const auto& info : all_models()) names.push_back(info.name);
  const std::vector<std::string> expected = {
      "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
      "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2", "alexnet",
      "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
      "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
      "mobilenet_v1", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
      "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
      "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l", "convnext_tiny",
      "convnext_small", "convnext_base", "convnext_large", "regnet_y_400mf", "regnet_y_800mf",
      "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf",
      "regnet_y_128gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf",
      "regnet_x_8gf", "regnet_x_16gf", "regnet_x_32gf", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
      "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "mnasnet0_5",
      "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "densenet121", "densenet161", "densenet169",
      "densenet201", "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "swin_t", "swin_s",
      "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b", "maxvit_t", "resnet20", "resnet32",
      "resnet44", "resnet56"};
  EXPECT_EQ(names, expected);
}

TEST(Registry, UnknownModelListsKnownOnes) {
  try {
    find_model("resnet19");
    FAIL() << "expected InvalidArgument";
  } catch (const xfer::InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown model 'resnet19'"), std::string::npos) << message;
    EXPECT_NE(message.find("resnet18"), std::string::npos) << message;
    EXPECT_NE(message.find("mobilenet_v3_large"), std::string::npos) << message;
  }
}

TEST(Registry, RejectsOptionsAModelDoesNotHave) {
  EXPECT_THROW(create_model("resnet18", ModelOptions().width_mult(0.5)), xfer::InvalidArgument);
  EXPECT_THROW(create_model("vgg11", ModelOptions().transform_input(true)), xfer::InvalidArgument);
  EXPECT_THROW(create_model("resnet18", ModelOptions().num_classes(-3)), xfer::InvalidArgument);
}

TEST(Registry, ARefusedOptionNamesTheModelsThatTakeIt) {
  const auto message = [](const std::string& name, const ModelOptions& options) {
    try {
      create_model(name, options);
    } catch (const xfer::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("resnet18", ModelOptions().width_mult(0.5)),
            "width_mult: resnet18 has no width multiplier (only mobilenet_v1); expected 1.0, got "
            "0.500000");
  EXPECT_EQ(message("vgg11", ModelOptions().aux_logits(false)),
            "aux_logits/transform_input: vgg11 has neither (only googlenet and inception_v3)");
  EXPECT_EQ(message("googlenet", ModelOptions().tf_same_padding(true)),
            "tf_same_padding: googlenet has no TF SAME padding (only mobilenet_v2 and "
            "mobilenet_v1)");  // in the registry's order, as `xfer models` lists them
}

TEST(Registry, EveryPretrainedWeightHasAnAddressAndHash) {
  for (const auto& info : all_models()) {
    ASSERT_FALSE(info.weights.empty()) << info.name;
    for (const auto& weights : info.weights) {
      EXPECT_EQ(weights.url.rfind("https://", 0), 0u) << info.name << " " << weights.name;
      EXPECT_GE(weights.sha256.size(), 8u) << info.name << " " << weights.name;
      // A head and a label set, or neither (vgg16's IMAGENET1K_FEATURES).
      EXPECT_EQ(weights.num_classes > 0, !weights.labels.empty()) << info.name;
    }
  }
}

// Each weight's own transform, as torchvision's presets give it: EfficientNet-B1's default (V2)
// resizes to 255 bilinearly, its V1 to 256 bicubically; V2-L normalises to [-1, 1].
TEST(Registry, InputsAreThoseOfTheWeightsTransforms) {
  const auto& b1 = find_model("efficientnet_b1");
  EXPECT_EQ(b1.input.size, 240);
  EXPECT_EQ(b1.input.resize, 255);
  EXPECT_EQ(b1.input.interpolation, xfer::Interpolation::kBilinear);
  ASSERT_EQ(b1.weights.size(), 2u);
  ASSERT_TRUE(b1.weights[1].input.has_value());
  EXPECT_EQ(b1.weights[1].input->resize, 256);
  EXPECT_EQ(b1.weights[1].input->interpolation, xfer::Interpolation::kBicubic);
  EXPECT_EQ(find_model("efficientnet_b0").input.interpolation, xfer::Interpolation::kBicubic);
  EXPECT_EQ(find_model("efficientnet_v2_s").input.interpolation, xfer::Interpolation::kBilinear);
  const auto& v2_l = find_model("efficientnet_v2_l");
  EXPECT_EQ(v2_l.input.interpolation, xfer::Interpolation::kBicubic);
  EXPECT_EQ(v2_l.input.mean, (std::array<double, 3>{0.5, 0.5, 0.5}));
  EXPECT_EQ(find_model("convnext_tiny").input.resize, 236);
  EXPECT_EQ(find_model("resnet18").input.interpolation, xfer::Interpolation::kBilinear);
}

class EveryModel : public ::testing::TestWithParam<std::string> {};

// Each architecture: default and custom classes, features of the registry's width, the head at the
// registry's path, and a head that can be replaced.
TEST_P(EveryModel, ForwardFeaturesAndHeadAgreeWithTheRegistry) {
  torch::NoGradGuard no_grad;
  const auto& info = find_model(GetParam());
  const int64_t side = info.input.size == 32 ? 32 : std::max<int64_t>(64, info.min_size);
  const auto images = torch::randn({2, 3, side, side});

  auto model = create_model(info.name, ModelOptions().num_classes(10));
  model->eval();
  EXPECT_EQ(model->forward(images).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(model->features(images).sizes(), (std::vector<int64_t>{2, info.feature_dim}));
  EXPECT_EQ(model->feature_dim(), info.feature_dim);
  EXPECT_EQ(model->head_path(), info.head_path);

  const auto modules = model->named_modules("", false);
  ASSERT_TRUE(modules.contains(info.head_path)) << info.head_path;
  EXPECT_EQ(modules[info.head_path].get(), model->head_module().get());

  model->reset_head(7);
  EXPECT_EQ(model->forward(images).sizes(), (std::vector<int64_t>{2, 7}));
  const auto params = model->named_parameters();
  ASSERT_TRUE(params.contains(info.head_path + ".weight"));
  EXPECT_EQ(params[info.head_path + ".weight"].sizes(),
            (std::vector<int64_t>{7, info.feature_dim}));

  auto by_default = create_model(info.name);
  EXPECT_EQ(by_default->named_parameters()[info.head_path + ".weight"].size(0),
            info.default_classes);
}

TEST_P(EveryModel, LogitsAreTheHeadOfTheFeatures) {
  torch::NoGradGuard no_grad;
  const auto& info = find_model(GetParam());
  const int64_t side = info.input.size == 32 ? 32 : std::max<int64_t>(64, info.min_size);
  const auto images = torch::randn({2, 3, side, side});
  auto model = create_model(info.name, ModelOptions().num_classes(5));
  model->eval();
  // SqueezeNet's own head classifies the map before pooling (below); a new head takes features.
  if (!model->classifies_features()) model->reset_head(5);
  ASSERT_TRUE(model->classifies_features());
  // The same layers twice; a kernel may block its sums differently from one call to the next
  // (oneDNN picks by shape and threads): 1e-5 of each logit or of the logits' scale.
  const auto logits = model->classify(model->features(images));
  EXPECT_TRUE(all_close(model->forward(images), logits, 1e-5,
                        1e-5 * logits.abs().max().item<double>()));
}

int64_t parameter_count(const std::string& name, const ModelOptions& options) {
  int64_t count = 0;
  for (const auto& parameter : create_model(name, options)->parameters()) count += parameter.numel();
  return count;
}

TEST_P(EveryModel, HasTheRegistrysParameterCount) {
  const auto& info = find_model(GetParam());
  // torchvision counts a model as its weights fill it: GoogLeNet's without the auxiliary
  // classifiers, Inception v3's with.
  const bool googlenet_weights = info.name == "googlenet";
  EXPECT_EQ(parameter_count(info.name, ModelOptions().aux_logits(!googlenet_weights)),
            info.num_params);
}

TEST_P(EveryModel, HasAnAuxiliaryLossWeightExactlyWhereItHasAuxiliaryOutputs) {
  // The trainer weighs auxiliary losses by the registry's aux_loss_weight: a model whose
  // training-mode forward returns auxiliary logits without a weight would train without them.
  torch::NoGradGuard no_grad;
  const auto& info = find_model(GetParam());
  // Auxiliary classifiers run at their model's own size (Inception v3's needs 299 px), MaxViT
  // at a multiple of 224.
  const int64_t side = info.input.size == 32         ? 32
                       : info.aux_loss_weight > 0 ? info.input.size
                                                  : std::max<int64_t>(96, info.size_multiple);
  auto model = create_model(info.name, ModelOptions().num_classes(3));
  model->train();
  const auto output = model->forward_full(torch::randn({2, 3, side, side}));
  EXPECT_EQ(!output.aux_logits.empty(), info.aux_loss_weight > 0) << info.aux_loss_weight;
}

TEST_P(EveryModel, TakesTheOptionsTheRegistrySaysItTakes) {
  const auto& info = find_model(GetParam());
  const auto accepted = [&](ModelOptions options) {
    try {
      create_model(info.name, options.num_classes(3));
      return true;
    } catch (const xfer::InvalidArgument&) {
      return false;
    }
  };
  EXPECT_EQ(accepted(ModelOptions().width_mult(0.5)), info.options.width_mult);
  EXPECT_EQ(accepted(ModelOptions().transform_input(true)),
            info.options.aux_logits_and_transform_input);
  EXPECT_EQ(accepted(ModelOptions().aux_logits(false)),
            info.options.aux_logits_and_transform_input);
  EXPECT_EQ(accepted(ModelOptions().tf_same_padding(true)), info.options.tf_same_padding);
  EXPECT_EQ(accepted(ModelOptions().image_size(224)), info.options.image_size);
}

TEST(Zoo, GoogLeNetAuxiliaryHeadsFollowANewHead) {
  auto model = create_model("googlenet");
  model->reset_head(4);
  model->train();
  const auto output = model->forward_full(torch::randn({2, 3, 96, 96}));
  ASSERT_EQ(output.aux_logits.size(), 2u);
  EXPECT_EQ(output.logits.sizes(), (std::vector<int64_t>{2, 4}));
  for (const auto& aux : output.aux_logits) EXPECT_EQ(aux.sizes(), (std::vector<int64_t>{2, 4}));
}

// torchvision's SqueezeNet head is a 1x1 convolution, ReLU, then the pooling: its logits are
// classify(features()) only where the map has one position (the smallest input, 21 px for 1.0).
TEST(Zoo, SqueezeNetsOwnHeadClassifiesTheMapBeforePooling) {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  auto model = create_model("squeezenet1_0", ModelOptions().num_classes(6));
  model->eval();
  EXPECT_FALSE(model->classifies_features());
  const auto images = torch::randn({2, 3, 64, 64});
  const auto logits = model->forward(images);
  const double scale = logits.abs().max().item<double>();
  EXPECT_GT((logits - model->classify(model->features(images))).abs().max().item<double>(),
            1e-3 * scale);
  const auto small = torch::randn({2, 3, 21, 21});
  EXPECT_TRUE(all_close(model->forward(small), model->classify(model->features(small)), 1e-5,
                        1e-5 * scale));

  model->reset_head(3);
  EXPECT_TRUE(model->classifies_features());
  EXPECT_EQ(model->named_parameters()["classifier.1.weight"].sizes(),
            (std::vector<int64_t>{3, 512}));
  EXPECT_TRUE(model->forward(images).equal(model->classify(model->features(images))));
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& info : all_models()) names.push_back(info.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Zoo, EveryModel, ::testing::ValuesIn(model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace

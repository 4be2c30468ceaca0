#include "xfer/models/registry.h"

#include "xfer/core/error.h"
#include "xfer/models/cifar_resnet.h"
#include "xfer/models/convnext.h"
#include "xfer/models/efficientnet.h"
#include "xfer/models/googlenet.h"
#include "xfer/models/mobilenet_v1.h"
#include "xfer/models/mobilenet_v2.h"
#include "xfer/models/mobilenet_v3.h"
#include "xfer/models/resnet.h"
#include "xfer/models/vgg.h"

#include <stdexcept>

namespace xfer::models {
namespace {

constexpr Interpolation kBicubic = Interpolation::kBicubic;

const char* const kTorchvision = "https://download.pytorch.org/models/";
const char* const kCifarResnets =
    "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/";
const char* const kCoral = "https://github.com/google-coral/test_data/raw/master/";

// torchvision's weights: the hash prefix is the one in the file name, as torch.hub checks it.
WeightsInfo torchvision_weights(const std::string& name, const std::string& file, double top1) {
  const auto dash = file.rfind('-');
  const auto dot = file.rfind('.');
  WeightsInfo info;
  info.name = name;
  info.url = kTorchvision + file;
  info.sha256 = file.substr(dash + 1, dot - dash - 1);
  info.format = "pth";
  info.labels = "imagenet1k";
  info.top1 = top1;
  return info;
}

WeightsInfo cifar_weights(const std::string& file, double top1) {
  const auto dash = file.rfind('-');
  const auto dot = file.rfind('.');
  WeightsInfo info;
  info.name = "CIFAR10";
  info.url = kCifarResnets + file;
  info.sha256 = file.substr(dash + 1, dot - dash - 1);
  info.format = "pth-legacy";
  info.labels = "cifar10";
  info.top1 = top1;
  info.num_classes = 10;
  return info;
}

// The Coral quantized MobileNets: 1001 classes (0 = background), input pixel p means (p-128)/128.
WeightsInfo coral_weights(const std::string& name, const std::string& file,
                          const std::string& sha256, double width_mult, int64_t size) {
  InputSpec input;
  input.size = size;
  input.resize = size * 256 / 224;
  input.mean = {128.0 / 255, 128.0 / 255, 128.0 / 255};
  input.std = {128.0 / 255, 128.0 / 255, 128.0 / 255};
  WeightsInfo info;
  info.name = name;
  info.url = kCoral + file;
  info.sha256 = sha256;
  info.format = "tflite";
  info.labels = "imagenet1k+background";
  info.num_classes = 1001;
  info.width_mult = width_mult;
  info.input = input;
  return info;
}

// Weights whose head is a separate file beside the backbone, from the same address folder.
WeightsInfo with_head_file(WeightsInfo info, const std::string& file, const std::string& sha256) {
  info.head_url = info.url.substr(0, info.url.rfind('/') + 1) + file;
  info.head_sha256 = sha256;
  return info;
}

// The crop and resize of a model's default weights (ImageNet's mean and std).
InputSpec sized(int64_t size, int64_t resize,
                Interpolation interpolation = Interpolation::kBilinear) {
  InputSpec input;
  input.size = size;
  input.resize = resize;
  input.interpolation = interpolation;
  return input;
}

// `input` normalised by mean 0.5 and std 0.5: pixels in [-1, 1].
InputSpec half_range(InputSpec input) {
  input.mean = {0.5, 0.5, 0.5};
  input.std = {0.5, 0.5, 0.5};
  return input;
}

// Weights whose input differs from the architecture's default weights.
WeightsInfo with_input(WeightsInfo info, const InputSpec& input) {
  info.input = input;
  return info;
}

InputSpec cifar_input() {
  InputSpec input;
  input.size = 32;
  input.resize = 32;
  return input;
}

std::vector<ModelInfo> make_zoo() {
  const InputSpec imagenet;
  // Columns: name, summary, factory, head_path, feature_dim, default_classes, input, weights.
  std::vector<ModelInfo> zoo = {
      {"resnet18", "ResNet-18 (He et al. 2015), torchvision", resnet18, "fc", 512, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758)}},
      {"resnet34", "ResNet-34, torchvision", resnet34, "fc", 512, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314)}},
      {"resnet50", "ResNet-50 (bottleneck), torchvision", resnet50, "fc", 2048, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.130),
        torchvision_weights("IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858)}},
      {"vgg11", "VGG-11 (Simonyan & Zisserman 2014), torchvision", vgg11, "classifier.6", 4096,
       1000, imagenet, {torchvision_weights("IMAGENET1K_V1", "vgg11-8a719046.pth", 69.020)}},
      {"vgg11_bn", "VGG-11 with batch-norm, torchvision", vgg11_bn, "classifier.6", 4096, 1000,
       imagenet, {torchvision_weights("IMAGENET1K_V1", "vgg11_bn-6002323d.pth", 70.370)}},
      {"vgg16", "VGG-16, torchvision", vgg16, "classifier.6", 4096, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "vgg16-397923af.pth", 71.592)}},
      {"vgg16_bn", "VGG-16 with batch-norm, torchvision", vgg16_bn, "classifier.6", 4096, 1000,
       imagenet, {torchvision_weights("IMAGENET1K_V1", "vgg16_bn-6c64b313.pth", 73.360)}},
      {"googlenet", "GoogLeNet / Inception v1 (Szegedy et al. 2014), torchvision", googlenet, "fc",
       1024, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "googlenet-1378be20.pth", 69.778)}},
      {"mobilenet_v2", "MobileNetV2 (Sandler et al. 2018), torchvision", mobilenet_v2,
       "classifier.1", 1280, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 71.878),
        torchvision_weights("IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth", 72.154),
        coral_weights("CORAL_QUANT_224", "mobilenet_v2_1.0_224_quant.tflite",
                      "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776", 1.0,
                      224)}},
      {"mobilenet_v3_small", "MobileNetV3-Small (Howard et al. 2019), torchvision",
       mobilenet_v3_small, "classifier.3", 1024, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "mobilenet_v3_small-047dcff4.pth", 67.668)}},
      {"mobilenet_v3_large", "MobileNetV3-Large, torchvision", mobilenet_v3_large, "classifier.3",
       1280, 1000, imagenet,
       {torchvision_weights("IMAGENET1K_V1", "mobilenet_v3_large-8738ca79.pth", 74.042),
        torchvision_weights("IMAGENET1K_V2", "mobilenet_v3_large-5c1a4163.pth", 75.274)}},
      {"mobilenet_v1", "MobileNetV1 (Howard et al. 2017), width 0.25/0.5/0.75/1.0", mobilenet_v1,
       "classifier.1", 1024, 1000, imagenet,
       {with_head_file(
            coral_weights("CORAL_QUANT_224",
                          "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
                          "f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319", 1.0,
                          224),
            "mobilenet_quant_v1_224_head_layers.tflite",
            "65a88984b258c6f3c99d7573acac8cf85bd747293d83d51fafc1c2fb6d632286"),
        coral_weights("CORAL_QUANT_0.75_192", "mobilenet_v1_0.75_192_quant.tflite",
                      "41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a", 0.75,
                      192),
        coral_weights("CORAL_QUANT_0.5_160", "mobilenet_v1_0.5_160_quant.tflite",
                      "3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43", 0.5, 160),
        coral_weights("CORAL_QUANT_0.25_128", "mobilenet_v1_0.25_128_quant.tflite",
                      "cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785", 0.25,
                      128)}},
      {"efficientnet_b0", "EfficientNet-B0 (Tan & Le 2019), torchvision", efficientnet_b0,
       "classifier.1", 1280, 1000, sized(224, 256, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b0_rwightman-3dd342df.pth", 77.692)}},
      {"efficientnet_b1", "EfficientNet-B1, torchvision", efficientnet_b1, "classifier.1", 1280,
       1000, sized(240, 255),
       {torchvision_weights("IMAGENET1K_V2", "efficientnet_b1-c27df63c.pth", 79.838),
        with_input(
            torchvision_weights("IMAGENET1K_V1", "efficientnet_b1_rwightman-533bc792.pth", 78.642),
            sized(240, 256, kBicubic))}},
      {"efficientnet_b2", "EfficientNet-B2, torchvision", efficientnet_b2, "classifier.1", 1408,
       1000, sized(288, 288, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b2_rwightman-bcdf34b7.pth", 80.608)}},
      {"efficientnet_b3", "EfficientNet-B3, torchvision", efficientnet_b3, "classifier.1", 1536,
       1000, sized(300, 320, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b3_rwightman-cf984f9c.pth", 82.008)}},
      {"efficientnet_b4", "EfficientNet-B4, torchvision", efficientnet_b4, "classifier.1", 1792,
       1000, sized(380, 384, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b4_rwightman-7eb33cd5.pth", 83.384)}},
      {"efficientnet_b5", "EfficientNet-B5, torchvision", efficientnet_b5, "classifier.1", 2048,
       1000, sized(456, 456, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b5_lukemelas-b6417697.pth", 83.444)}},
      {"efficientnet_b6", "EfficientNet-B6, torchvision", efficientnet_b6, "classifier.1", 2304,
       1000, sized(528, 528, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b6_lukemelas-c76e70fd.pth", 84.008)}},
      {"efficientnet_b7", "EfficientNet-B7, torchvision", efficientnet_b7, "classifier.1", 2560,
       1000, sized(600, 600, kBicubic),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_b7_lukemelas-dcc49843.pth", 84.122)}},
      {"efficientnet_v2_s", "EfficientNetV2-S (Tan & Le 2021), torchvision", efficientnet_v2_s,
       "classifier.1", 1280, 1000, sized(384, 384),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_v2_s-dd5fe13b.pth", 84.228)}},
      {"efficientnet_v2_m", "EfficientNetV2-M, torchvision", efficientnet_v2_m, "classifier.1",
       1280, 1000, sized(480, 480),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_v2_m-dc08266a.pth", 85.112)}},
      {"efficientnet_v2_l", "EfficientNetV2-L, torchvision (input normalised to [-1, 1])",
       efficientnet_v2_l, "classifier.1", 1280, 1000, half_range(sized(480, 480, kBicubic)),
       {torchvision_weights("IMAGENET1K_V1", "efficientnet_v2_l-59c71312.pth", 85.808)}},
      {"convnext_tiny", "ConvNeXt-T (Liu et al. 2022), torchvision", convnext_tiny,
       "classifier.2", 768, 1000, sized(224, 236),
       {torchvision_weights("IMAGENET1K_V1", "convnext_tiny-983f1562.pth", 82.520)}},
      {"convnext_small", "ConvNeXt-S, torchvision", convnext_small, "classifier.2", 768, 1000,
       sized(224, 230),
       {torchvision_weights("IMAGENET1K_V1", "convnext_small-0c510722.pth", 83.616)}},
      {"convnext_base", "ConvNeXt-B, torchvision", convnext_base, "classifier.2", 1024, 1000,
       sized(224, 232),
       {torchvision_weights("IMAGENET1K_V1", "convnext_base-6075fbad.pth", 84.062)}},
      {"convnext_large", "ConvNeXt-L, torchvision", convnext_large, "classifier.2", 1536, 1000,
       sized(224, 232),
       {torchvision_weights("IMAGENET1K_V1", "convnext_large-ea097f82.pth", 84.414)}},
      {"resnet20", "CIFAR ResNet-20 (He et al. 2016, option A), 16/32/64 channels", resnet20,
       "linear", 64, 10, cifar_input(), {cifar_weights("resnet20-12fca82f.th", 91.78)}},
      {"resnet32", "CIFAR ResNet-32", resnet32, "linear", 64, 10, cifar_input(),
       {cifar_weights("resnet32-d509ac18.th", 92.63)}},
      {"resnet44", "CIFAR ResNet-44", resnet44, "linear", 64, 10, cifar_input(),
       {cifar_weights("resnet44-014dd654.th", 93.10)}},
      {"resnet56", "CIFAR ResNet-56", resnet56, "linear", 64, 10, cifar_input(),
       {cifar_weights("resnet56-4bfd9763.th", 93.62)}},
  };
  // What create_model and the trainer need to know beyond the table, by field name.
  const auto entry = [&zoo](const std::string& name) -> ModelInfo& {
    for (auto& info : zoo) {
      if (info.name == name) return info;
    }
    throw std::logic_error("registry: no entry '" + name + "'");
  };
  for (const char* name : {"resnet18", "resnet34", "resnet50"}) {
    entry(name).finetune_in_nchw = true;  // 11 % slower in channels_last at 224 px
  }
  entry("googlenet").options.aux_logits_and_transform_input = true;
  entry("googlenet").aux_loss_weight = 0.3;
  entry("mobilenet_v1").options.width_mult = true;
  entry("mobilenet_v1").options.tf_same_padding = true;
  entry("mobilenet_v2").options.tf_same_padding = true;
  return zoo;
}

// The names of the models whose SupportedOptions has `flag`: "a", "a and b", "a, b and c".
std::string models_with(bool SupportedOptions::*flag) {
  std::vector<std::string> names;
  for (const auto& info : all_models()) {
    if (info.options.*flag) names.push_back(info.name);
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

}  // namespace

const std::vector<ModelInfo>& all_models() {
  static const std::vector<ModelInfo> zoo = make_zoo();
  return zoo;
}

const ModelInfo& find_model(const std::string& name) {
  std::string known;
  for (const auto& info : all_models()) {
    if (info.name == name) return info;
    known += (known.empty() ? "" : ", ") + info.name;
  }
  throw InvalidArgument("unknown model '" + name + "'; known models: " + known);
}

Classifier create_model(const std::string& name, const ModelOptions& options) {
  const ModelInfo& info = find_model(name);
  if (options.num_classes() < 0) {
    throw InvalidArgument("num_classes: expected a positive count (or 0 for the default), got " +
                          std::to_string(options.num_classes()));
  }
  if (!info.options.width_mult && options.width_mult() != 1.0) {
    throw InvalidArgument("width_mult: " + name + " has no width multiplier (only " +
                          models_with(&SupportedOptions::width_mult) + "); expected 1.0, got " +
                          std::to_string(options.width_mult()));
  }
  if (!info.options.aux_logits_and_transform_input &&
      (!options.aux_logits() || options.transform_input())) {
    throw InvalidArgument("aux_logits/transform_input: " + name + " has neither (only " +
                          models_with(&SupportedOptions::aux_logits_and_transform_input) + ")");
  }
  if (!info.options.tf_same_padding && options.tf_same_padding()) {
    throw InvalidArgument("tf_same_padding: " + name + " has no TF SAME padding (only " +
                          models_with(&SupportedOptions::tf_same_padding) + ")");
  }
  ModelOptions resolved = options;
  if (resolved.num_classes() == 0) resolved.num_classes(info.default_classes);
  return info.factory(resolved);
}

}  // namespace xfer::models

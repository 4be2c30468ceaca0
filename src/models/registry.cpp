#include "xfer/models/registry.h"

#include "xfer/core/error.h"
#include "xfer/models/alexnet.h"
#include "xfer/models/cifar_resnet.h"
#include "xfer/models/convnext.h"
#include "xfer/models/densenet.h"
#include "xfer/models/efficientnet.h"
#include "xfer/models/googlenet.h"
#include "xfer/models/inception.h"
#include "xfer/models/mnasnet.h"
#include "xfer/models/mobilenet_v1.h"
#include "xfer/models/mobilenet_v2.h"
#include "xfer/models/mobilenet_v3.h"
#include "xfer/models/regnet.h"
#include "xfer/models/resnet.h"
#include "xfer/models/shufflenet.h"
#include "xfer/models/squeezenet.h"
#include "xfer/models/torchvision_weights.h"
#include "xfer/models/vgg.h"
#include "xfer/models/maxvit.h"
#include "xfer/models/swin.h"
#include "xfer/models/vit.h"

#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace xfer::models {
namespace {

const char* const kTorchvision = "https://download.pytorch.org/models/";
const char* const kCifarResnets =
    "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/";
const char* const kCoral = "https://github.com/google-coral/test_data/raw/master/";

// The hash prefix in a file name `name-<prefix>.ext`, as torch.hub checks it.
std::string hash_prefix_of(const std::string& file) {
  const auto dash = file.rfind('-');
  const auto dot = file.rfind('.');
  return file.substr(dash + 1, dot - dash - 1);
}

InputSpec input_of(const TorchvisionWeights& row) {
  InputSpec input;
  input.size = row.crop;
  input.resize = row.resize;
  input.interpolation = row.interpolation;
  input.mean = row.mean;
  input.std = row.std;
  return input;
}

WeightsInfo weights_of(const TorchvisionWeights& row) {
  WeightsInfo info;
  info.name = row.name;
  info.url = std::string(kTorchvision) + row.file;
  info.sha256 = hash_prefix_of(row.file);
  info.format = "pth";
  info.labels = row.num_categories == 0 ? "" : "imagenet1k";
  info.top1 = row.top1;
  info.top5 = row.top5;
  info.num_classes = row.num_categories;
  info.input = input_of(row);
  return info;
}

// One of torchvision's architectures, with every weights entry of the generated table for it
// (DEFAULT first, then the enum's order) and the input of its DEFAULT weights.
ModelInfo torchvision_model(const std::string& name, const std::string& summary,
                            std::function<Classifier(const ModelOptions&)> factory,
                            const std::string& head_path, int64_t feature_dim) {
  ModelInfo info{name, summary, std::move(factory), head_path, feature_dim, 1000, {}, {}};
  for (const TorchvisionWeights& row : torchvision_weights_table()) {
    if (row.model != name) continue;
    if (row.is_default) {
      info.input = input_of(row);
      info.num_params = row.num_params;
      info.min_size = row.min_size;
      info.weights.insert(info.weights.begin(), weights_of(row));
    } else {
      info.weights.push_back(weights_of(row));
    }
  }
  if (info.weights.empty()) throw std::logic_error("registry: no torchvision weights for " + name);
  return info;
}

WeightsInfo cifar_weights(const std::string& file, double top1) {
  WeightsInfo info;
  info.name = "CIFAR10";
  info.url = kCifarResnets + file;
  info.sha256 = hash_prefix_of(file);
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

ModelInfo& entry_of(std::vector<ModelInfo>& zoo, const std::string& name) {
  for (auto& info : zoo) {
    if (info.name == name) return info;
  }
  throw std::logic_error("registry: no entry '" + name + "'");
}

InputSpec cifar_input() {
  InputSpec input;
  input.size = 32;
  input.resize = 32;
  return input;
}

std::vector<ModelInfo> make_zoo() {
  // torchvision's architectures: name, summary, factory, head_path, feature_dim; their input and
  // weights come from the generated table.
  std::vector<ModelInfo> zoo = {
      torchvision_model("resnet18", "ResNet-18 (He et al. 2015), torchvision", resnet18, "fc", 512),
      torchvision_model("resnet34", "ResNet-34, torchvision", resnet34, "fc", 512),
      torchvision_model("resnet50", "ResNet-50 (bottleneck), torchvision", resnet50, "fc", 2048),
      torchvision_model("resnet101", "ResNet-101, torchvision", resnet101, "fc", 2048),
      torchvision_model("resnet152", "ResNet-152, torchvision", resnet152, "fc", 2048),
      torchvision_model("resnext50_32x4d", "ResNeXt-50 32x4d (Xie et al. 2016), torchvision",
                        resnext50_32x4d, "fc", 2048),
      torchvision_model("resnext101_32x8d", "ResNeXt-101 32x8d, torchvision", resnext101_32x8d,
                        "fc", 2048),
      torchvision_model("resnext101_64x4d", "ResNeXt-101 64x4d, torchvision", resnext101_64x4d,
                        "fc", 2048),
      torchvision_model("wide_resnet50_2", "Wide ResNet-50-2 (Zagoruyko & Komodakis 2016)",
                        wide_resnet50_2, "fc", 2048),
      torchvision_model("wide_resnet101_2", "Wide ResNet-101-2, torchvision", wide_resnet101_2,
                        "fc", 2048),
      torchvision_model("alexnet", "AlexNet (Krizhevsky 2014, one weird trick), torchvision",
                        alexnet, "classifier.6", 4096),
      torchvision_model("vgg11", "VGG-11 (Simonyan & Zisserman 2014), torchvision", vgg11,
                        "classifier.6", 4096),
      torchvision_model("vgg11_bn", "VGG-11 with batch-norm, torchvision", vgg11_bn, "classifier.6",
                        4096),
      torchvision_model("vgg13", "VGG-13, torchvision", vgg13, "classifier.6", 4096),
      torchvision_model("vgg13_bn", "VGG-13 with batch-norm, torchvision", vgg13_bn, "classifier.6",
                        4096),
      torchvision_model("vgg16", "VGG-16, torchvision", vgg16, "classifier.6", 4096),
      torchvision_model("vgg16_bn", "VGG-16 with batch-norm, torchvision", vgg16_bn, "classifier.6",
                        4096),
      torchvision_model("vgg19", "VGG-19, torchvision", vgg19, "classifier.6", 4096),
      torchvision_model("vgg19_bn", "VGG-19 with batch-norm, torchvision", vgg19_bn, "classifier.6",
                        4096),
      torchvision_model("googlenet", "GoogLeNet / Inception v1 (Szegedy et al. 2014), torchvision",
                        googlenet, "fc", 1024),
      torchvision_model("inception_v3", "Inception v3 (Szegedy et al. 2015), torchvision",
                        inception_v3, "fc", 2048),
      torchvision_model("mobilenet_v2", "MobileNetV2 (Sandler et al. 2018), torchvision",
                        mobilenet_v2, "classifier.1", 1280),
      torchvision_model("mobilenet_v3_small", "MobileNetV3-Small (Howard et al. 2019), torchvision",
                        mobilenet_v3_small, "classifier.3", 1024),
      torchvision_model("mobilenet_v3_large", "MobileNetV3-Large, torchvision", mobilenet_v3_large,
                        "classifier.3", 1280),
      {"mobilenet_v1",
       "MobileNetV1 (Howard et al. 2017), width 0.25/0.5/0.75/1.0",
       mobilenet_v1,
       "classifier.1",
       1024,
       1000,
       InputSpec{},
       {with_head_file(
            coral_weights(
                "CORAL_QUANT_224", "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
                "f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319", 1.0, 224),
            "mobilenet_quant_v1_224_head_layers.tflite",
            "65a88984b258c6f3c99d7573acac8cf85bd747293d83d51fafc1c2fb6d632286"),
        coral_weights("CORAL_QUANT_0.75_192", "mobilenet_v1_0.75_192_quant.tflite",
                      "41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a", 0.75,
                      192),
        coral_weights("CORAL_QUANT_0.5_160", "mobilenet_v1_0.5_160_quant.tflite",
                      "3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43", 0.5, 160),
        coral_weights("CORAL_QUANT_0.25_128", "mobilenet_v1_0.25_128_quant.tflite",
                      "cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785", 0.25,
                      128)},
       SupportedOptions{},
       false,
       0,
       4231976},
      torchvision_model("efficientnet_b0", "EfficientNet-B0 (Tan & Le 2019), torchvision",
                        efficientnet_b0, "classifier.1", 1280),
      torchvision_model("efficientnet_b1", "EfficientNet-B1, torchvision", efficientnet_b1,
                        "classifier.1", 1280),
      torchvision_model("efficientnet_b2", "EfficientNet-B2, torchvision", efficientnet_b2,
                        "classifier.1", 1408),
      torchvision_model("efficientnet_b3", "EfficientNet-B3, torchvision", efficientnet_b3,
                        "classifier.1", 1536),
      torchvision_model("efficientnet_b4", "EfficientNet-B4, torchvision", efficientnet_b4,
                        "classifier.1", 1792),
      torchvision_model("efficientnet_b5", "EfficientNet-B5, torchvision", efficientnet_b5,
                        "classifier.1", 2048),
      torchvision_model("efficientnet_b6", "EfficientNet-B6, torchvision", efficientnet_b6,
                        "classifier.1", 2304),
      torchvision_model("efficientnet_b7", "EfficientNet-B7, torchvision", efficientnet_b7,
                        "classifier.1", 2560),
      torchvision_model("efficientnet_v2_s", "EfficientNetV2-S (Tan & Le 2021), torchvision",
                        efficientnet_v2_s, "classifier.1", 1280),
      torchvision_model("efficientnet_v2_m", "EfficientNetV2-M, torchvision", efficientnet_v2_m,
                        "classifier.1", 1280),
      torchvision_model("efficientnet_v2_l",
                        "EfficientNetV2-L, torchvision (input normalised to [-1, 1])",
                        efficientnet_v2_l, "classifier.1", 1280),
      torchvision_model("convnext_tiny", "ConvNeXt-T (Liu et al. 2022), torchvision", convnext_tiny,
                        "classifier.2", 768),
      torchvision_model("convnext_small", "ConvNeXt-S, torchvision", convnext_small, "classifier.2",
                        768),
      torchvision_model("convnext_base", "ConvNeXt-B, torchvision", convnext_base, "classifier.2",
                        1024),
      torchvision_model("convnext_large", "ConvNeXt-L, torchvision", convnext_large, "classifier.2",
                        1536),
      torchvision_model("regnet_y_400mf", "RegNetY-400MF (Radosavovic et al. 2020), torchvision",
                        regnet_y_400mf, "fc", 440),
      torchvision_model("regnet_y_800mf", "RegNetY-800MF, torchvision", regnet_y_800mf, "fc", 784),
      torchvision_model("regnet_y_1_6gf", "RegNetY-1.6GF, torchvision", regnet_y_1_6gf, "fc", 888),
      torchvision_model("regnet_y_3_2gf", "RegNetY-3.2GF, torchvision", regnet_y_3_2gf, "fc", 1512),
      torchvision_model("regnet_y_8gf", "RegNetY-8GF, torchvision", regnet_y_8gf, "fc", 2016),
      torchvision_model("regnet_y_16gf", "RegNetY-16GF, torchvision", regnet_y_16gf, "fc", 3024),
      torchvision_model("regnet_y_32gf", "RegNetY-32GF, torchvision", regnet_y_32gf, "fc", 3712),
      torchvision_model("regnet_y_128gf", "RegNetY-128GF, torchvision (SWAG weights only)",
                        regnet_y_128gf, "fc", 7392),
      torchvision_model("regnet_x_400mf", "RegNetX-400MF, torchvision", regnet_x_400mf, "fc", 400),
      torchvision_model("regnet_x_800mf", "RegNetX-800MF, torchvision", regnet_x_800mf, "fc", 672),
      torchvision_model("regnet_x_1_6gf", "RegNetX-1.6GF, torchvision", regnet_x_1_6gf, "fc", 912),
      torchvision_model("regnet_x_3_2gf", "RegNetX-3.2GF, torchvision", regnet_x_3_2gf, "fc", 1008),
      torchvision_model("regnet_x_8gf", "RegNetX-8GF, torchvision", regnet_x_8gf, "fc", 1920),
      torchvision_model("regnet_x_16gf", "RegNetX-16GF, torchvision", regnet_x_16gf, "fc", 2048),
      torchvision_model("regnet_x_32gf", "RegNetX-32GF, torchvision", regnet_x_32gf, "fc", 2520),
      torchvision_model("shufflenet_v2_x0_5", "ShuffleNetV2 x0.5 (Ma et al. 2018), torchvision",
                        shufflenet_v2_x0_5, "fc", 1024),
      torchvision_model("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0, torchvision",
                        shufflenet_v2_x1_0, "fc", 1024),
      torchvision_model("shufflenet_v2_x1_5", "ShuffleNetV2 x1.5, torchvision",
                        shufflenet_v2_x1_5, "fc", 1024),
      torchvision_model("shufflenet_v2_x2_0", "ShuffleNetV2 x2.0, torchvision",
                        shufflenet_v2_x2_0, "fc", 2048),
      torchvision_model("squeezenet1_0", "SqueezeNet 1.0 (Iandola et al. 2016), torchvision",
                        squeezenet1_0, "classifier.1", 512),
      torchvision_model("squeezenet1_1", "SqueezeNet 1.1, torchvision", squeezenet1_1,
                        "classifier.1", 512),
      torchvision_model("mnasnet0_5", "MNASNet-B1 0.5 (Tan et al. 2018), torchvision", mnasnet0_5,
                        "classifier.1", 1280),
      torchvision_model("mnasnet0_75", "MNASNet-B1 0.75, torchvision", mnasnet0_75,
                        "classifier.1", 1280),
      torchvision_model("mnasnet1_0", "MNASNet-B1 1.0, torchvision", mnasnet1_0, "classifier.1",
                        1280),
      torchvision_model("mnasnet1_3", "MNASNet-B1 1.3, torchvision", mnasnet1_3, "classifier.1",
                        1280),
      torchvision_model("densenet121", "DenseNet-121 (Huang et al. 2016), torchvision",
                        densenet121, "classifier", 1024),
      torchvision_model("densenet161", "DenseNet-161, torchvision", densenet161, "classifier",
                        2208),
      torchvision_model("densenet169", "DenseNet-169, torchvision", densenet169, "classifier",
                        1664),
      torchvision_model("densenet201", "DenseNet-201, torchvision", densenet201, "classifier",
                        1920),
      torchvision_model("vit_b_16", "ViT-B/16 (Dosovitskiy et al. 2020), torchvision", vit_b_16,
                        "heads.head", 768),
      torchvision_model("vit_b_32", "ViT-B/32, torchvision", vit_b_32, "heads.head", 768),
      torchvision_model("vit_l_16", "ViT-L/16, torchvision", vit_l_16, "heads.head", 1024),
      torchvision_model("vit_l_32", "ViT-L/32, torchvision", vit_l_32, "heads.head", 1024),
      torchvision_model("vit_h_14", "ViT-H/14, torchvision (SWAG weights only)", vit_h_14,
                        "heads.head", 1280),
      torchvision_model("swin_t", "Swin-T (Liu et al. 2021), torchvision", swin_t, "head", 768),
      torchvision_model("swin_s", "Swin-S, torchvision", swin_s, "head", 768),
      torchvision_model("swin_b", "Swin-B, torchvision", swin_b, "head", 1024),
      torchvision_model("swin_v2_t", "Swin-V2-T (Liu et al. 2022), torchvision", swin_v2_t,
                        "head", 768),
      torchvision_model("swin_v2_s", "Swin-V2-S, torchvision", swin_v2_s, "head", 768),
      torchvision_model("swin_v2_b", "Swin-V2-B, torchvision", swin_v2_b, "head", 1024),
      torchvision_model("maxvit_t", "MaxViT-T (Tu et al. 2022), torchvision", maxvit_t,
                        "classifier.5", 512),
      {"resnet20",
       "CIFAR ResNet-20 (He et al. 2016, option A), 16/32/64 channels",
       resnet20,
       "linear",
       64,
       10,
       cifar_input(),
       {cifar_weights("resnet20-12fca82f.th", 91.78)},
       SupportedOptions{},
       false,
       0,
       269722},
      {"resnet32",
       "CIFAR ResNet-32",
       resnet32,
       "linear",
       64,
       10,
       cifar_input(),
       {cifar_weights("resnet32-d509ac18.th", 92.63)},
       SupportedOptions{},
       false,
       0,
       464154},
      {"resnet44",
       "CIFAR ResNet-44",
       resnet44,
       "linear",
       64,
       10,
       cifar_input(),
       {cifar_weights("resnet44-014dd654.th", 93.10)},
       SupportedOptions{},
       false,
       0,
       658586},
      {"resnet56",
       "CIFAR ResNet-56",
       resnet56,
       "linear",
       64,
       10,
       cifar_input(),
       {cifar_weights("resnet56-4bfd9763.th", 93.62)},
       SupportedOptions{},
       false,
       0,
       853018},
  };
  // The Coral TFLite import of MobileNetV2, after torchvision's own weights.
  entry_of(zoo, "mobilenet_v2")
      .weights.push_back(coral_weights(
          "CORAL_QUANT_224", "mobilenet_v2_1.0_224_quant.tflite",
          "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776", 1.0, 224));
  // What create_model and the trainer need to know beyond the table, by field name.
  const auto entry = [&zoo](const std::string& name) -> ModelInfo& { return entry_of(zoo, name); };
  for (const char* name : {"resnet18", "resnet34", "resnet50"}) {
    entry(name).finetune_in_nchw = true;  // 11 % slower in channels_last at 224 px
  }
  for (const char* name : {"densenet121", "densenet161", "densenet169", "densenet201"}) {
    entry(name).upgrade_key = upgrade_densenet_key;
  }
  // The Vision Transformers take any image from one patch up, their position embeddings
  // interpolated; torchvision's min_size is the size they were made for.
  for (const auto& [name, patch] : std::initializer_list<std::pair<const char*, int64_t>>{
           {"vit_b_16", 16}, {"vit_b_32", 32}, {"vit_l_16", 16}, {"vit_l_32", 32}, {"vit_h_14", 14}}) {
    entry(name).options.image_size = true;
    entry(name).min_size = patch;
  }
  // The Swin Transformers pad to whole windows, so any image of one patch (4 px) runs;
  // torchvision's min_size is the size their weights were trained at.
  for (const char* name : {"swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"}) {
    entry(name).min_size = 4;
  }
  entry("maxvit_t").size_multiple = 224;
  for (const char* name : {"googlenet", "inception_v3"}) {
    for (auto& weights : entry(name).weights) weights.transform_input = true;
  }
  entry("googlenet").options.aux_logits_and_transform_input = true;
  entry("googlenet").aux_loss_weight = 0.3;
  // TF-slim's Inception v3 training (train_image_classifier.py): the auxiliary loss weighs 0.4.
  entry("inception_v3").options.aux_logits_and_transform_input = true;
  entry("inception_v3").aux_loss_weight = 0.4;
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
  if (!info.options.image_size && options.image_size() != 0) {
    throw InvalidArgument("image_size: " + name + " takes any size and has no image_size (only " +
                          models_with(&SupportedOptions::image_size) + "); expected 0, got " +
                          std::to_string(options.image_size()));
  }
  if (options.image_size() < 0) {
    throw InvalidArgument("image_size: expected a side in pixels (or 0 for the default), got " +
                          std::to_string(options.image_size()));
  }
  ModelOptions resolved = options;
  if (resolved.num_classes() == 0) resolved.num_classes(info.default_classes);
  if (info.options.image_size && resolved.image_size() == 0) resolved.image_size(info.input.size);
  return info.factory(resolved);
}

}  // namespace xfer::models

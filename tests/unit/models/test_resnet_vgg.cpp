// ResNet-18/34/50, VGG-11/16(_bn) and the CIFAR ResNets: what is specific to these architectures.
// Their weight keys and module paths against torchvision's and the checkpoints', taps inside the
// blocks, where the strides and shortcuts sit, and torchvision's / akamaster's initialisation.
// (Shapes, heads and features of every zoo model are checked in test_zoo.cpp.)

#include "xfer/core/error.h"
#include "xfer/models/cifar_resnet.h"
#include "xfer/models/resnet.h"
#include "xfer/models/vgg.h"

#include "support/compare.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using xfer::testing::all_close;
using xfer::models::CifarResNetImpl;
using xfer::models::Classifier;
using xfer::models::create_model;
using xfer::models::ModelOptions;
using xfer::models::ResNetImpl;
using xfer::models::VGGImpl;
using Shape = std::vector<int64_t>;

std::string shape_of(const torch::Tensor& tensor) {
  std::string out = "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(tensor.size(i));
  }
  return out + "]";
}

std::string dtype_of(const torch::Tensor& tensor) {
  if (tensor.scalar_type() == torch::kFloat) return "float32";
  if (tensor.scalar_type() == torch::kLong) return "int64";
  return c10::toString(tensor.scalar_type());
}

// "key [shape] dtype\n" for every parameter and buffer, in the order of Python's state_dict():
// module by module (pre-order), each module's own parameters, then its own buffers.
std::vector<std::string> state_lines(const torch::nn::Module& model,
                                     bool with_num_batches_tracked = true) {
  std::vector<std::string> lines;
  for (const auto& item : model.named_modules()) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    const auto add = [&](const std::string& name, const torch::Tensor& tensor) {
      if (!with_num_batches_tracked && name == "num_batches_tracked") return;
      lines.push_back(prefix + name + " " + shape_of(tensor) + " " + dtype_of(tensor) + "\n");
    };
    for (const auto& param : item.value()->named_parameters(/*recurse=*/false)) {
      add(param.key(), param.value());
    }
    for (const auto& buffer : item.value()->named_buffers(/*recurse=*/false)) {
      add(buffer.key(), buffer.value());
    }
  }
  return lines;
}

std::vector<std::string> module_lines(const torch::nn::Module& model) {
  std::vector<std::string> lines;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    lines.push_back(item.key() + "\n");
  }
  return lines;
}

// FNV-1a, 64 bits, of the concatenated lines; the Python side is in ReferenceLayout's comment.
uint64_t digest(const std::vector<std::string>& lines) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const auto& line : lines) {
    for (const unsigned char byte : line) {
      hash ^= byte;
      hash *= 0x100000001b3ULL;
    }
  }
  return hash;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line;
  return out;
}

int64_t parameter_count(const torch::nn::Module& model) {
  int64_t count = 0;
  for (const auto& param : model.parameters()) count += param.numel();
  return count;
}

// What the reference model has. For torchvision, with torch 1.13.1 / torchvision 0.14.1:
//   m = torchvision.models.NAME()
//   lines = [f"{k} {list(v.shape)} {str(v.dtype)[6:]}\n" for k, v in m.state_dict().items()]
//   modules = [k + "\n" for k, _ in m.named_modules() if k]
// and the FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) of "".join(...).encode().
// For the CIFAR ResNets the state lines are those of the checkpoints'
// torch.load(F)['state_dict'] with `module.` stripped (resnet20-12fca82f.th, resnet56-4bfd9763.th;
// resnet32/44 from akamaster's resnet.py instantiated, whose resnet20/56 give the same digests),
// which have no num_batches_tracked; module paths from akamaster's resnet.py.
struct ReferenceLayout {
  std::string name;
  size_t state_count;
  uint64_t state_digest;
  size_t module_count;
  uint64_t module_digest;
  int64_t parameters;
  int64_t batch_norms;
  bool reference_has_num_batches_tracked;
  std::string head_weight;
};

void PrintTo(const ReferenceLayout& layout, std::ostream* os) { *os << layout.name; }

class Layout : public ::testing::TestWithParam<ReferenceLayout> {};

TEST_P(Layout, KeysShapesDtypesAndPathsAreTheReferences) {
  const ReferenceLayout& expected = GetParam();
  Classifier model = create_model(expected.name);

  const auto state = state_lines(*model, expected.reference_has_num_batches_tracked);
  EXPECT_EQ(state.size(), expected.state_count);
  EXPECT_EQ(digest(state), expected.state_digest) << "state lines:\n" << joined(state);
  const auto modules = module_lines(*model);
  EXPECT_EQ(modules.size(), expected.module_count);
  EXPECT_EQ(digest(modules), expected.module_digest) << "module paths:\n" << joined(modules);
  EXPECT_EQ(parameter_count(*model), expected.parameters);

  // LibTorch's batch-norm always tracks its batches, as torch 1.13's does.
  int64_t tracked = 0;
  for (const auto& buffer : model->named_buffers()) {
    if (buffer.key().size() < 20 ||
        buffer.key().compare(buffer.key().size() - 20, 20, ".num_batches_tracked") != 0) {
      continue;
    }
    ++tracked;
    EXPECT_EQ(buffer.value().scalar_type(), torch::kLong) << buffer.key();
    EXPECT_EQ(buffer.value().dim(), 0) << buffer.key();
  }
  EXPECT_EQ(tracked, expected.batch_norms);

  // A new head keeps every name; only the head's shapes change.
  std::vector<std::string> names_before;
  for (const auto& item : model->named_parameters()) names_before.push_back(item.key());
  model->reset_head(7);
  std::vector<std::string> names_after;
  for (const auto& item : model->named_parameters()) names_after.push_back(item.key());
  EXPECT_EQ(names_after, names_before);
  EXPECT_EQ(model->named_parameters()[expected.head_weight].sizes(),
            (Shape{7, model->feature_dim()}));
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, Layout,
    ::testing::Values(ReferenceLayout{"resnet18", 122, 0x160c2e4726102e0cULL, 67,
                                      0x2f0a30152a2cf219ULL, 11689512, 20, true, "fc.weight"},
                      ReferenceLayout{"resnet34", 218, 0xee29085b68453a8cULL, 115,
                                      0x48158f34037afdafULL, 21797672, 36, true, "fc.weight"},
                      ReferenceLayout{"resnet50", 320, 0xc50912d8423f62e6ULL, 150,
                                      0x9ff15a3f62503054ULL, 25557032, 53, true, "fc.weight"},
                      ReferenceLayout{"vgg11", 22, 0xc3b5393ba01ee655ULL, 31, 0x73100c1ed53f8c00ULL,
                                      132863336, 0, true, "classifier.6.weight"},
                      ReferenceLayout{"vgg11_bn", 62, 0x54e6cca1c66fb2c1ULL, 39,
                                      0x3e2c8a51abf15918ULL, 132868840, 8, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"vgg16", 32, 0x6b01cc15e12f5212ULL, 41, 0x431547c308fffa4aULL,
                                      138357544, 0, true, "classifier.6.weight"},
                      ReferenceLayout{"vgg16_bn", 97, 0xc1b637f9541fb0c7ULL, 54,
                                      0x268208840c28480dULL, 138365992, 13, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"resnet101", 626, 0x0cb31b359ffb51d7ULL, 286,
                                      0x157ca6b4fc0ea8baULL, 44549160, 104, true, "fc.weight"},
                      ReferenceLayout{"resnet152", 932, 0xc21253bab40bc150ULL, 422,
                                      0xf09d43fcebefe6e4ULL, 60192808, 155, true, "fc.weight"},
                      ReferenceLayout{"resnext50_32x4d", 320, 0x3174a647e414348fULL, 150,
                                      0x9ff15a3f62503054ULL, 25028904, 53, true, "fc.weight"},
                      ReferenceLayout{"resnext101_32x8d", 626, 0x49d2a7dfb1c039aaULL, 286,
                                      0x157ca6b4fc0ea8baULL, 88791336, 104, true, "fc.weight"},
                      ReferenceLayout{"resnext101_64x4d", 626, 0xf47f28d49226e63bULL, 286,
                                      0x157ca6b4fc0ea8baULL, 83455272, 104, true, "fc.weight"},
                      ReferenceLayout{"wide_resnet50_2", 320, 0xc8ce6986cfede612ULL, 150,
                                      0x9ff15a3f62503054ULL, 68883240, 53, true, "fc.weight"},
                      ReferenceLayout{"wide_resnet101_2", 626, 0x0d9960674f2d7cafULL, 286,
                                      0x157ca6b4fc0ea8baULL, 126886696, 104, true, "fc.weight"},
                      ReferenceLayout{"alexnet", 16, 0x40cc33040ebe7660ULL, 23,
                                      0x8ebb91a87106c16fULL, 61100840, 0, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"vgg13", 26, 0x9342e4da6488cbc4ULL, 35,
                                      0x34eeff945f19a7acULL, 133047848, 0, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"vgg13_bn", 76, 0x72dadf1cc8c8a5e1ULL, 45,
                                      0xa9e5614df69fb512ULL, 133053736, 10, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"vgg19", 38, 0x3dc70f18434eb2d0ULL, 47,
                                      0xe55b2849cd0b8e75ULL, 143667240, 0, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"vgg19_bn", 118, 0xc0f65915edba769bULL, 63,
                                      0x0a67ced32f190c5bULL, 143678248, 16, true,
                                      "classifier.6.weight"},
                      ReferenceLayout{"resnet20", 97, 0xd492bd1ef40d4bc3ULL, 60,
                                      0x0e4fffb9e2b0c45dULL, 269722, 19, false, "linear.weight"},
                      ReferenceLayout{"resnet32", 157, 0x726b138550b080efULL, 96,
                                      0xaa858e6498aa462bULL, 464154, 31, false, "linear.weight"},
                      ReferenceLayout{"resnet44", 217, 0x4fcdd59bf2d29dc3ULL, 132,
                                      0xf43e0b676446a065ULL, 658586, 43, false, "linear.weight"},
                      ReferenceLayout{"resnet56", 277, 0xbf4ef18b89312ddfULL, 168,
                                      0x3855baa0821c8243ULL, 853018, 55, false, "linear.weight"}),
    [](const auto& info) { return info.param.name; });

// Relative distance of the standard deviation of `tensor` from `expected`.
double std_error(const torch::Tensor& tensor, double expected) {
  return std::abs(tensor.std().item<double>() - expected) / expected;
}

torch::Tensor param(const Classifier& model, const std::string& key) {
  auto params = model->named_parameters();
  if (!params.contains(key)) throw std::runtime_error("test: no parameter " + key);
  return params[key];
}

void expect_unknown_path(const Classifier& model, const std::string& path,
                         const std::string& suggestion) {
  try {
    model->forward_with(torch::zeros({1, 3, 32, 32}), {path});
    FAIL() << "expected InvalidArgument for " << path;
  } catch (const xfer::InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown module path '" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("'" + suggestion + "'"), std::string::npos) << message;
  }
}

template <typename Construct>
void expect_invalid(Construct construct, const std::string& substring) {
  try {
    construct();
    FAIL() << "expected InvalidArgument containing " << substring;
  } catch (const xfer::InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(substring), std::string::npos) << message;
  }
}

// ---- ResNet ----

// 68x68: conv1 gives 34x34, which the 3x3/2 max-pool (padding 1) floors to 17x17 (ceil_mode would
// give 18); layer2's stride-2 3x3 then gives 9x9.
TEST(ResNet, BasicBlocksTapAndAddTheirShortcut) {
  torch::NoGradGuard no_grad;
  Classifier model = create_model("resnet18", ModelOptions().num_classes(10));
  model->eval();
  const auto images = torch::randn({2, 3, 68, 68});
  auto [logits, taps] = model->forward_with(
      images, {"conv1", "maxpool", "layer1.0.conv1", "layer1.0.bn2", "layer1.0", "layer1.1.relu",
               "layer1.1", "layer2.0.conv1", "layer2.0.bn2", "layer2.0.downsample.0",
               "layer2.0.downsample", "layer2.0", "layer4", "avgpool", "fc"});
  EXPECT_EQ(taps["conv1"].sizes(), (Shape{2, 64, 34, 34}));
  EXPECT_EQ(taps["maxpool"].sizes(), (Shape{2, 64, 17, 17}));
  EXPECT_EQ(taps["layer1.0.conv1"].sizes(), (Shape{2, 64, 17, 17}));
  EXPECT_EQ(taps["layer2.0.conv1"].sizes(), (Shape{2, 128, 9, 9}));
  EXPECT_EQ(taps["layer2.0.downsample.0"].sizes(), (Shape{2, 128, 9, 9}));
  EXPECT_EQ(taps["layer4"].sizes(), (Shape{2, 512, 3, 3}));
  EXPECT_EQ(taps["avgpool"].sizes(), (Shape{2, 512, 1, 1}));
  EXPECT_TRUE(taps["fc"].equal(logits));
  // The block's ReLU runs twice; its tap keeps the second output, the block's own.
  EXPECT_TRUE(taps["layer1.1.relu"].equal(taps["layer1.1"]));
  // Identity shortcut in layer1.0, the 1x1/2 projection in layer2.0.
  EXPECT_TRUE(taps["layer1.0"].equal(torch::relu(taps["layer1.0.bn2"] + taps["maxpool"])));
  EXPECT_TRUE(
      taps["layer2.0"].equal(torch::relu(taps["layer2.0.bn2"] + taps["layer2.0.downsample"])));
  // Only a block that changes stride or width has a downsample.
  EXPECT_FALSE(model->named_modules("", false).contains("layer1.0.downsample"));
  EXPECT_FALSE(model->named_modules("", false).contains("layer2.1.downsample"));
}

// torchvision's Bottleneck (V1.5) strides on the 3x3 conv2, not on the 1x1 conv1; layer1.0 has a
// stride-1 downsample because its width changes from 64 to 256.
TEST(ResNet, BottleneckStridesOnItsThreeByThree) {
  torch::NoGradGuard no_grad;
  Classifier model = create_model("resnet50", ModelOptions().num_classes(10));
  model->eval();
  auto [logits, taps] = model->forward_with(
      torch::randn({2, 3, 64, 64}), {"layer1.0.downsample.0", "layer2.0.conv1", "layer2.0.conv2",
                                     "layer2.0.conv3", "layer2.0.downsample", "layer4.2.bn3"});
  EXPECT_EQ(taps["layer1.0.downsample.0"].sizes(), (Shape{2, 256, 16, 16}));
  EXPECT_EQ(taps["layer2.0.conv1"].sizes(), (Shape{2, 128, 16, 16}));
  EXPECT_EQ(taps["layer2.0.conv2"].sizes(), (Shape{2, 128, 8, 8}));
  EXPECT_EQ(taps["layer2.0.conv3"].sizes(), (Shape{2, 512, 8, 8}));
  EXPECT_EQ(taps["layer2.0.downsample"].sizes(), (Shape{2, 512, 8, 8}));
  EXPECT_EQ(taps["layer4.2.bn3"].sizes(), (Shape{2, 2048, 2, 2}));
  EXPECT_EQ(logits.sizes(), (Shape{2, 10}));
}

// Kaiming-normal fan-out convolutions, batch-norm 1/0 (zero_init_residual off), default Linear.
TEST(ResNet, InitialisesAsTorchvision) {
  torch::manual_seed(0);
  Classifier model = create_model("resnet18");
  EXPECT_LT(std_error(param(model, "layer4.1.conv2.weight"), std::sqrt(2.0 / (512 * 9))), 0.01);
  EXPECT_LT(std_error(param(model, "layer3.0.downsample.0.weight"), std::sqrt(2.0 / 256)), 0.02);
  EXPECT_LT(std_error(param(model, "conv1.weight"), std::sqrt(2.0 / (64 * 49))), 0.03);
  EXPECT_LT(std::abs(param(model, "layer4.1.conv2.weight").mean().item<double>()), 1e-4);
  for (const auto& item : model->named_parameters()) {
    if (item.key().find("bn") == std::string::npos &&
        item.key().find("downsample.1") == std::string::npos) {
      continue;
    }
    const double fill =
        item.key().size() > 7 && item.key().compare(item.key().size() - 7, 7, ".weight") == 0 ? 1.0
                                                                                              : 0.0;
    EXPECT_TRUE(item.value().eq(fill).all().item<bool>()) << item.key();
  }
  // nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  const double bound = 1.0 / std::sqrt(512.0);
  const auto fc = param(model, "fc.weight");
  EXPECT_LE(fc.abs().max().item<double>(), bound);
  EXPECT_LT(std_error(fc, bound / std::sqrt(3.0)), 0.01);
  EXPECT_LE(param(model, "fc.bias").abs().max().item<double>(), bound);
  EXPECT_GT(param(model, "fc.bias").abs().max().item<double>(), 0.0);
}

TEST(ResNet, RejectsUnknownPathsDepthsAndClassCounts) {
  expect_unknown_path(create_model("resnet18"), "layer1.0.conv3", "layer1.0.conv1");
  expect_unknown_path(create_model("resnet50"), "layer2.0.downsample.2", "layer2.0.downsample.1");
  expect_invalid([] { ResNetImpl("resnet19", 10); },
                 "expected one of resnet18, resnet34, resnet50, resnet101, resnet152, "
                 "resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, "
                 "wide_resnet101_2, got 'resnet19'");
  expect_invalid([] { ResNetImpl("resnet18", 0); }, "num_classes: expected at least 1, got 0");
}

// ---- VGG ----

// The VGGs are large (133M parameters); the tests below share one of each kind.
class VGG : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::manual_seed(0);
    vgg11_ = create_model("vgg11", ModelOptions().num_classes(10));
    vgg11_bn_ = create_model("vgg11_bn");
  }
  static void TearDownTestSuite() {
    vgg11_.reset();
    vgg11_bn_.reset();
  }
  static Classifier vgg11_;
  static Classifier vgg11_bn_;
};
Classifier VGG::vgg11_;
Classifier VGG::vgg11_bn_;

// 70x70: the five 2x2/2 max-pools floor 70 → 35 → 17 → 8 → 4 → 2; avgpool stretches 2x2 to 7x7.
TEST_F(VGG, FeaturesKeepTorchvisionsIndices) {
  torch::NoGradGuard no_grad;
  Classifier model = vgg11_;
  model->eval();
  const auto images = torch::randn({2, 3, 70, 70});
  auto [logits, taps] = model->forward_with(
      images, {"features.0", "features.1", "features.2", "features.3", "features.5", "features.20",
               "avgpool", "classifier.0", "classifier.5", "classifier.6", "classifier"});
  EXPECT_EQ(taps["features.0"].sizes(), (Shape{2, 64, 70, 70}));
  EXPECT_TRUE(taps["features.1"].equal(torch::relu(taps["features.0"])));
  EXPECT_EQ(taps["features.2"].sizes(), (Shape{2, 64, 35, 35}));
  EXPECT_EQ(taps["features.3"].sizes(), (Shape{2, 128, 35, 35}));
  EXPECT_EQ(taps["features.5"].sizes(), (Shape{2, 128, 17, 17}));
  EXPECT_EQ(taps["features.20"].sizes(), (Shape{2, 512, 2, 2}));
  EXPECT_EQ(taps["avgpool"].sizes(), (Shape{2, 512, 7, 7}));
  EXPECT_EQ(taps["classifier.0"].sizes(), (Shape{2, 4096}));
  // features() is the output of classifier.5; the tap on `classifier` is the logits.
  // The same layers on the same input; the runs may still pick kernels with other blockings, whose
  // sums differ in order: 1e-5 of each element or of the features' scale.
  const auto features = model->features(images);
  EXPECT_TRUE(all_close(taps["classifier.5"], features, 1e-5,
                        1e-5 * features.abs().max().item<double>()));
  EXPECT_TRUE(taps["classifier.6"].equal(logits));
  EXPECT_TRUE(taps["classifier"].equal(logits));
}

TEST_F(VGG, BatchNormFollowsEveryConvolution) {
  torch::NoGradGuard no_grad;
  Classifier model = vgg11_bn_;
  model->eval();
  auto [logits, taps] =
      model->forward_with(torch::randn({2, 3, 32, 32}), {"features.1", "features.3", "features.4"});
  EXPECT_EQ(taps["features.1"].sizes(), (Shape{2, 64, 32, 32}));   // BatchNorm2d(64)
  EXPECT_EQ(taps["features.3"].sizes(), (Shape{2, 64, 16, 16}));   // MaxPool2d
  EXPECT_EQ(taps["features.4"].sizes(), (Shape{2, 128, 16, 16}));  // Conv2d(64, 128)
  EXPECT_EQ(param(model, "features.1.weight").sizes(), (Shape{64}));
}

// Kaiming-normal fan-out convolutions with zero bias, normal(0, 0.01) Linears with zero bias, for
// the constructor's head and for a head made by reset_head.
TEST_F(VGG, InitialisesAsTorchvision) {
  torch::manual_seed(0);
  Classifier model = vgg11_bn_;
  EXPECT_LT(std_error(param(model, "features.25.weight"), std::sqrt(2.0 / (512 * 9))), 0.01);
  EXPECT_TRUE(param(model, "features.25.bias").eq(0).all().item<bool>());
  EXPECT_TRUE(param(model, "features.1.weight").eq(1).all().item<bool>());
  EXPECT_TRUE(param(model, "features.1.bias").eq(0).all().item<bool>());
  for (const std::string linear : {"classifier.0", "classifier.3", "classifier.6"}) {
    EXPECT_LT(std_error(param(model, linear + ".weight"), 0.01), 0.01) << linear;
    EXPECT_TRUE(param(model, linear + ".bias").eq(0).all().item<bool>()) << linear;
  }
  model->reset_head(100);
  const auto head = param(model, "classifier.6.weight");
  EXPECT_LT(std_error(head, 0.01), 0.01);
  // nn.Linear's default would stay within 1/sqrt(4096) and have a non-zero bias.
  EXPECT_GT(head.abs().max().item<double>(), 1.0 / std::sqrt(4096.0));
  EXPECT_TRUE(param(model, "classifier.6.bias").eq(0).all().item<bool>());
}

TEST_F(VGG, RejectsUnknownPathsDepthsAndClassCounts) {
  expect_unknown_path(vgg11_, "classifer.6", "classifier.6");
  expect_unknown_path(vgg11_, "avgpol", "avgpool");
  expect_invalid([] { VGGImpl(12, false, 10); }, "expected depth 11, 13, 16 or 19, got 12");
  expect_invalid([] { VGGImpl(16, true, -1); }, "num_classes: expected at least 1, got -1");
}

// ---- CIFAR ResNet ----

// Option A: the shortcut of layer2.0 takes every second pixel of layer1's output and pads 8 zero
// channels on either side of its 16; the identity shortcuts are empty Sequentials.
TEST(CifarResNet, OptionAShortcutSubsamplesAndZeroPads) {
  torch::NoGradGuard no_grad;
  Classifier model = create_model("resnet20");
  model->eval();
  auto [logits, taps] = model->forward_with(
      torch::randn({2, 3, 32, 32}),
      {"bn1", "layer1.0.conv1", "layer1.0.shortcut", "layer1", "layer2.0.shortcut", "layer2.0.bn2",
       "layer2.0", "layer3.0.shortcut", "layer3", "linear"});
  EXPECT_EQ(taps["layer1.0.conv1"].sizes(), (Shape{2, 16, 32, 32}));
  EXPECT_TRUE(taps["layer1.0.shortcut"].equal(torch::relu(taps["bn1"])));

  const auto& shortcut = taps["layer2.0.shortcut"];
  ASSERT_EQ(shortcut.sizes(), (Shape{2, 32, 16, 16}));
  const auto sampled = taps["layer1"].slice(2, 0, 32, 2).slice(3, 0, 32, 2);
  EXPECT_TRUE(shortcut.slice(1, 8, 24).equal(sampled));
  EXPECT_TRUE(shortcut.slice(1, 0, 8).eq(0).all().item<bool>());
  EXPECT_TRUE(shortcut.slice(1, 24, 32).eq(0).all().item<bool>());
  EXPECT_TRUE(taps["layer2.0"].equal(torch::relu(taps["layer2.0.bn2"] + shortcut)));

  EXPECT_EQ(taps["layer3.0.shortcut"].sizes(), (Shape{2, 64, 8, 8}));
  EXPECT_EQ(taps["layer3"].sizes(), (Shape{2, 64, 8, 8}));
  EXPECT_TRUE(taps["linear"].equal(logits));
  EXPECT_FALSE(model->named_parameters().contains("layer2.0.shortcut.weight"));
}

TEST(CifarResNet, PoolsTheWholeMapOfAnyShape) {
  torch::NoGradGuard no_grad;
  Classifier model = create_model("resnet32");
  model->eval();
  const auto images = torch::randn({2, 3, 32, 48});
  auto [logits, taps] = model->forward_with(images, {"layer3"});
  EXPECT_EQ(taps["layer3"].sizes(), (Shape{2, 64, 8, 12}));
  // The model pools with its own call, the test with mean(): two orders of summing 96 values,
  // which differ by ~1e-7 of the scale; 1e-5 of each element or of the scale.
  const auto pooled = taps["layer3"].mean({2, 3});
  EXPECT_TRUE(all_close(model->features(images), pooled, 1e-5,
                        1e-5 * pooled.abs().max().item<double>()));
}

// akamaster's _weights_init: kaiming_normal_ (fan-in, gain sqrt 2) on every Conv2d and Linear
// weight, the Linear bias left at nn.Linear's default; reset_head does the same.
TEST(CifarResNet, InitialisesAsAkamaster) {
  torch::manual_seed(0);
  Classifier model = std::make_shared<CifarResNetImpl>(56, 1000);
  EXPECT_LT(std_error(param(model, "layer3.8.conv2.weight"), std::sqrt(2.0 / (64 * 9))), 0.02);
  EXPECT_LT(std_error(param(model, "layer2.0.conv1.weight"), std::sqrt(2.0 / (16 * 9))), 0.05);
  EXPECT_LT(std_error(param(model, "linear.weight"), std::sqrt(2.0 / 64)), 0.02);
  const double bound = 1.0 / std::sqrt(64.0);
  EXPECT_LE(param(model, "linear.bias").abs().max().item<double>(), bound);
  EXPECT_GT(param(model, "linear.bias").abs().max().item<double>(), 0.0);
  EXPECT_TRUE(param(model, "layer1.0.bn1.weight").eq(1).all().item<bool>());
  EXPECT_TRUE(param(model, "layer1.0.bn1.bias").eq(0).all().item<bool>());

  model->reset_head(1000);
  EXPECT_LT(std_error(param(model, "linear.weight"), std::sqrt(2.0 / 64)), 0.02);
}

TEST(CifarResNet, RejectsUnknownPathsDepthsAndClassCounts) {
  expect_unknown_path(create_model("resnet20"), "layer2.0.shortcuts", "layer2.0.shortcut");
  expect_unknown_path(create_model("resnet20"), "layer1.0.relu", "layer1.0.bn1");
  expect_invalid([] { CifarResNetImpl(21, 10); },
                 "expected depth 6n+2 (20, 32, 44, 56, ...), got 21");
  expect_invalid([] { CifarResNetImpl(2, 10); }, "got 2");
  expect_invalid([] { CifarResNetImpl(20, 0); }, "num_classes: expected at least 1, got 0");
}

}  // namespace

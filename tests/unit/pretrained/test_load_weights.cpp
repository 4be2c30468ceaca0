// `--weights SRC` on PyTorch files: a torchvision resnet18 saved by Python in both formats gives
// Python's probabilities; names and sources that are not weights are refused clearly.

#include "tflite_builder.h"

#include "support/compare.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/core/error.h"
#include "xfer/models/densenet.h"
#include "xfer/pretrained/labels.h"
#include "xfer/pretrained/pretrained.h"
#include "xfer/weights/checkpoint.h"
#include "xfer/weights/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace xfer::testing {
namespace {

const char* const kPython = "/usr/bin/python3";

// A seeded, randomly initialised torchvision resnet18 (no pretrained download exists offline),
// saved as a zip and a legacy .pth, with an input and Python's logits for it.
const char* const kSaveResnet18 = R"(
import sys, torch, torchvision
out = sys.argv[1]
torch.manual_seed(0)
model = torchvision.models.resnet18()
model.eval()
torch.save(model.state_dict(), out + "/resnet18.pth")
torch.save(model.state_dict(), out + "/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)) * 4 - 2
with torch.no_grad():
    logits = model(x)
torch.save({"x": x, "logits": logits, "probabilities": torch.softmax(logits, 1)}, out + "/io.pth")
)";

std::filesystem::path python_resnet18() {
  static const std::filesystem::path dir = [] {
    const auto out = temp_dir("resnet18");
    std::ofstream(out / "save.py") << kSaveResnet18;
    const auto result = run_process(kPython, {(out / "save.py").string(), out.string()});
    return result.exit_code == 0 ? out : std::filesystem::path();
  }();
  return dir;
}

bool has_torch() {
  return std::filesystem::exists(kPython) &&
         run_process(kPython, {"-c", "import torch, torchvision"}).exit_code == 0;
}

#define XFER_REQUIRE_PYTHON_TORCH()                                                       \
  do {                                                                                    \
    if (!has_torch()) GTEST_SKIP() << kPython << " with torch and torchvision is absent"; \
    ASSERT_FALSE(python_resnet18().empty()) << "the Python side failed to save resnet18";  \
  } while (0)

class PythonResnet18 : public ::testing::TestWithParam<std::string> {};

TEST_P(PythonResnet18, GivesPythonsProbabilities) {
  XFER_REQUIRE_PYTHON_TORCH();
  const auto dir = python_resnet18();
  const auto io = weights::read_state_dict(dir / "io.pth");
  auto loaded = pretrained::load_pretrained("resnet18", (dir / GetParam()).string());
  EXPECT_EQ(loaded.weights.report.loaded.size(), 122u);
  EXPECT_TRUE(loaded.weights.report.skipped.empty());
  ASSERT_EQ(loaded.weights.labels.size(), 1000u);
  EXPECT_EQ(loaded.weights.labels[1], "goldfish");
  EXPECT_EQ(loaded.weights.input.size, 224);
  torch::NoGradGuard no_grad;
  const auto logits = loaded.model->forward(io["x"]);
  const auto probabilities = torch::softmax(logits, 1);
  // Python's logits came from other kernels (its own build of oneDNN and MKL), through 18 layers
  // of float32 sums: ~1e-5 of the logits' scale apart. 1e-4 of each logit or of the scale.
  const double scale = io["logits"].abs().max().item<double>();
  EXPECT_TRUE(all_close(logits, io["logits"], 1e-4, 1e-4 * scale));
  EXPECT_LE((probabilities - io["probabilities"]).abs().max().item<float>(), 1e-4);
  EXPECT_TRUE(torch::equal(logits.argmax(1), io["logits"].argmax(1)));
}

INSTANTIATE_TEST_SUITE_P(BothFormats, PythonResnet18,
                         ::testing::Values("resnet18.pth", "resnet18_legacy.pth"));

// torchvision's published DenseNet files predate the layers' names (`denselayer1.norm.1.weight`
// for `denselayer1.norm1.weight`); Python's loader renames them, and so does xfer's. A densenet121
// saved by Python under the old names loads key for key and gives Python's logits.
const char* const kSaveOldDensenet = R"(
import re, sys, torch, torchvision
out = sys.argv[1]
torch.manual_seed(0)
model = torchvision.models.densenet121().eval()
# As the 2017 files: no num_batches_tracked (PyTorch 0.4.1 added it), old layer names.
old = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
       for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
assert "features.denseblock1.denselayer1.norm.1.weight" in old
torch.save(old, out + "/densenet121.pth")
x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    torch.save({"x": x, "logits": model(x)}, out + "/io.pth")
)";

TEST(LoadWeights, RenamesTheKeysOfTorchvisionsPublishedDenseNets) {
  XFER_REQUIRE_PYTHON_TORCH();
  const auto dir = temp_dir("densenet-old-keys");
  std::ofstream(dir / "save.py") << kSaveOldDensenet;
  const auto saved = run_process(kPython, {(dir / "save.py").string(), dir.string()});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  auto loaded = pretrained::load_pretrained("densenet121", (dir / "densenet121.pth").string());
  EXPECT_EQ(loaded.weights.report.loaded.size(), 606u);  // 727 keys, 121 of them counters
  EXPECT_TRUE(loaded.weights.report.missing.empty());
  EXPECT_TRUE(loaded.weights.report.unexpected.empty());
  const auto io = weights::read_state_dict(dir / "io.pth");
  torch::NoGradGuard no_grad;
  const auto logits = loaded.model->forward(io["x"]);
  const double scale = io["logits"].abs().max().item<double>();
  EXPECT_TRUE(all_close(logits, io["logits"], 1e-4, 1e-4 * scale));
  EXPECT_EQ(models::upgrade_densenet_key("features.denseblock4.denselayer16.conv.2.weight"),
            "features.denseblock4.denselayer16.conv2.weight");
  EXPECT_EQ(models::upgrade_densenet_key("features.norm5.running_var"),
            "features.norm5.running_var");
}

TEST(LoadWeights, SkipsTheHeadOfAnotherClassCountAndSaysSo) {
  XFER_REQUIRE_PYTHON_TORCH();
  auto loaded = pretrained::load_pretrained((std::string("resnet18")),
                                            (python_resnet18() / "resnet18.pth").string(),
                                            pretrained::PretrainedOptions().num_classes(10));
  EXPECT_EQ(loaded.weights.report.skipped, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_EQ(loaded.weights.report.loaded.size(), 120u);
  ASSERT_EQ(loaded.weights.notes.size(), 1u);
  EXPECT_EQ(loaded.weights.notes[0],
            "head 'fc' skipped: the weights have 1000 classes, the model 10");
  EXPECT_TRUE(loaded.weights.labels.empty());
  EXPECT_EQ(loaded.model->forward(torch::zeros({1, 3, 64, 64})).size(1), 10);
}

TEST(LoadWeights, LoadsSafetensorsIntoAnExistingModel) {
  auto source = models::create_model("resnet20");
  const auto file = temp_dir("safetensors") / "resnet20.safetensors";
  torch::OrderedDict<std::string, torch::Tensor> tensors;
  for (const auto& item : source->named_parameters()) tensors.insert(item.key(), item.value());
  for (const auto& item : source->named_buffers()) tensors.insert(item.key(), item.value());
  weights::write_safetensors(file, tensors);
  auto target = models::create_model("resnet20");
  const auto loaded = pretrained::load_weights(target, "resnet20", file.string());
  EXPECT_EQ(loaded.format, "safetensors");
  EXPECT_TRUE(loaded.report.missing.empty());
  ASSERT_EQ(loaded.labels.size(), 10u);
  EXPECT_EQ(loaded.labels[9], "truck");
  EXPECT_EQ(loaded.input.size, 32);
  EXPECT_TRUE(torch::equal(target->named_parameters()["linear.weight"],
                           source->named_parameters()["linear.weight"]));
}

TEST(LoadWeights, ImportsATfliteFileForMobilenetV1AtItsWidth) {
  auto shape_model = models::create_model(
      "mobilenet_v1", models::ModelOptions().width_mult(0.25).num_classes(1001));
  const auto file = temp_dir("tflite") / "fake_v1.tflite";
  std::ofstream(file, std::ios::binary) << build_tflite(fake_mobilenet(*shape_model, 128, 3));
  auto loaded = pretrained::load_pretrained("mobilenet_v1", file.string());
  EXPECT_EQ(loaded.weights.format, "tflite");
  EXPECT_EQ(loaded.model->feature_dim(), 256);
  ASSERT_EQ(loaded.weights.labels.size(), 1001u);
  EXPECT_EQ(loaded.weights.labels[1], "tench");
  EXPECT_EQ(loaded.weights.input.size, 128);
  EXPECT_EQ(loaded.weights.input.resize, 146);
  EXPECT_TRUE(loaded.weights.report.skipped.empty());
  // The options it was built with, which rebuild the same model (model.json records them).
  EXPECT_EQ(loaded.options.width_mult(), 0.25);
  EXPECT_TRUE(loaded.options.tf_same_padding());
  EXPECT_EQ(loaded.options.num_classes(), 1001);
}

template <typename E, typename F>
void expect_error(F&& f, const std::string& substring) {
  try {
    f();
    FAIL() << "expected an error containing '" << substring << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(LoadWeights, RefusesSourcesThatAreNotWeights) {
  expect_error<InvalidArgument>([] { pretrained::load_pretrained("resnet18", "IMAGENET9K"); },
                                "--weights IMAGENET9K: neither a file nor a weights name of "
                                "resnet18; it accepts a file path, imagenet, IMAGENET1K_V1");
  expect_error<InvalidArgument>([] { pretrained::load_pretrained("resnet20", "imagenet"); },
                                "resnet20 has no ImageNet weights");
  expect_error<IoError>([] { pretrained::load_pretrained("resnet18", "/nowhere/r18.pth"); },
                        "--weights /nowhere/r18.pth: no such file");
  expect_error<InvalidArgument>([] { pretrained::load_pretrained("resnet99", "imagenet"); },
                                "unknown model 'resnet99'");
  expect_error<InvalidArgument>(
      [] {
        pretrained::load_pretrained("resnet18", "x", pretrained::PretrainedOptions().num_classes(-1));
      },
      "num_classes: expected a positive count");
}

TEST(LoadWeights, ReportsWeightsOfAnotherArchitecture) {
  auto source = models::create_model("resnet20");
  const auto file = temp_dir("mismatch") / "resnet20.safetensors";
  torch::OrderedDict<std::string, torch::Tensor> tensors;
  for (const auto& item : source->named_parameters()) tensors.insert(item.key(), item.value());
  weights::write_safetensors(file, tensors);
  expect_error<WeightMismatch>([&] { pretrained::load_pretrained("resnet18", file.string()); },
                               "missing");
}

TEST(Labels, NameEveryLabelSet) {
  EXPECT_EQ(pretrained::imagenet_labels().size(), 1000u);
  EXPECT_EQ(pretrained::imagenet_labels()[0], "tench");
  EXPECT_EQ(pretrained::imagenet_labels()[999], "toilet tissue");
  const auto background = pretrained::label_names("imagenet1k+background");
  ASSERT_EQ(background.size(), 1001u);
  EXPECT_EQ(background[0], "background");
  EXPECT_EQ(background[653], "military uniform");
  EXPECT_EQ(pretrained::label_names("cifar10")[0], "airplane");
  expect_error<InvalidArgument>([] { pretrained::label_names("coco"); },
                                "unknown label set 'coco'; known: imagenet1k");
}

}  // namespace
}  // namespace xfer::testing

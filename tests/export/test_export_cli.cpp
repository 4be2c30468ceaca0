// `xfer export` as a user meets it: a small run trained on Fashion-MNIST exported as ONNX and as
// TorchScript, run by ONNX Runtime and by LibTorch on the run's own test pictures prepared by its
// eval transform, the metadata read back by Python's onnx, and the mistakes a user can make.

#include "check.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/download/digest.h"
#include "xfer/train/trainer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/utils.h>

#include <cstdlib>
#include <fstream>

namespace xfer::testing {
namespace {

namespace fs = std::filesystem;

class ExportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(temp_dir("export-cli"));
    setenv("XFER_HOME", (*dir_ / "home").c_str(), 1);
    const auto trained = run_xfer(
        {"train", "--model", "resnet20", "--weights", "none", "--data", "fashion-mnist",
         "--classes", "Trouser,Bag", "--per-class", "40", "--test-per-class", "10",
         "--image-size", "32", "--strategy", "finetune", "--epochs", "1", "--batch-size", "8",
         "--threads", "1", "--workers", "1", "--out", run().string()});
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
  }
  static fs::path run() { return *dir_ / "run"; }

  // Three test pictures of the run as its eval transform prepares them, and the run's logits.
  static std::pair<at::Tensor, at::Tensor> pictures_and_logits() {
    const auto trained = train::load_run(run());
    const auto splits = train::run_splits(trained.config);
    std::vector<at::Tensor> images;
    for (int64_t i = 0; i < 3; ++i) images.push_back(trained.eval_transform(splits.test.image(i), 0));
    const at::Tensor batch = at::stack(images);
    torch::NoGradGuard no_grad;
    return {batch, trained.model->forward(batch)};
  }

  static fs::path* dir_;
};

fs::path* ExportCli::dir_ = nullptr;

TEST_F(ExportCli, OnnxRunsInOnnxRuntimeWithTheRunsClassesAndInput) {
  const fs::path file = *dir_ / "run.onnx";
  const auto exported = run_xfer({"export", run().string(), "-o", file.string(), "--probabilities"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("wrote " + file.string()), std::string::npos) << exported.out;

  const auto metadata = run_process(
      XFER_PYTHON, {"-c",
                    "import json, onnx, sys\n"
                    "m = onnx.load(sys.argv[1])\n"
                    "meta = {p.key: p.value for p in m.metadata_props}\n"
                    "print(json.loads(meta['xfer.classes']))\n"
                    "i = json.loads(meta['xfer.input'])\n"
                    "print(i['size'], i['crop'], meta['xfer.model'], meta['xfer.weights_sha256'])\n",
                    file.string()});
  ASSERT_EQ(metadata.exit_code, 0) << metadata.err;
  EXPECT_NE(metadata.out.find("['Trouser', 'Bag']"), std::string::npos) << metadata.out;
  EXPECT_NE(metadata.out.find("32 False resnet20 " +
                              download::sha256_file(run() / "best.safetensors")),
            std::string::npos)
      << metadata.out;

  const auto [pictures, logits] = pictures_and_logits();
  const fs::path out = *dir_ / "ort";
  const auto ort = run_onnxruntime(file, pictures, out);
  ASSERT_EQ(ort.exit_code, 0) << ort.err;
  EXPECT_LE(relative_difference(read_raw(out / "logits.bin", {3, 2}), logits), 1e-4);
  EXPECT_NE(ort.out.find("probabilities 3,2"), std::string::npos) << ort.out;
}

TEST_F(ExportCli, TorchScriptRunsInLibTorchWithTheMetadataBeside) {
  const fs::path file = *dir_ / "run.pt";
  const auto exported = run_xfer({"export", run().string(), "--format", "torchscript", "-o",
                                  file.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  torch::jit::ExtraFilesMap extra = {{"xfer.json", ""}};
  torch::jit::Module module = torch::jit::load(file.string(), c10::nullopt, extra);
  EXPECT_NE(extra["xfer.json"].find("\"Trouser\",\n    \"Bag\""), std::string::npos)
      << extra["xfer.json"];
  const auto [pictures, logits] = pictures_and_logits();
  torch::NoGradGuard no_grad;
  EXPECT_LE(relative_difference(module.forward({pictures}).toTensor(), logits), 1e-4);
}

TEST_F(ExportCli, MistakesAreNamedAndLeaveNoFile) {
  const auto nothing = run_xfer({"export", "-o", (*dir_ / "x.onnx").string()});
  EXPECT_EQ(nothing.exit_code, 3);
  EXPECT_NE(nothing.err.find("expected a run directory, or --model with --weights"),
            std::string::npos)
      << nothing.err;
  const auto both = run_xfer({"export", run().string(), "--model", "resnet20", "--weights",
                              "none", "-o", (*dir_ / "x.onnx").string()});
  EXPECT_EQ(both.exit_code, 3);
  EXPECT_NE(both.err.find("found both"), std::string::npos) << both.err;
  const auto not_run = run_xfer({"export", dir_->string(), "-o", (*dir_ / "x.onnx").string()});
  EXPECT_EQ(not_run.exit_code, 4);
  EXPECT_NE(not_run.err.find("is not a run directory"), std::string::npos) << not_run.err;
  const auto features = run_xfer({"export", run().string(), "--format", "torchscript",
                                  "--features", "-o", (*dir_ / "x.pt").string()});
  EXPECT_EQ(features.exit_code, 3);
  const auto format = run_xfer({"export", run().string(), "--format", "tflite", "-o",
                                (*dir_ / "x.tflite").string()});
  EXPECT_EQ(format.exit_code, 2);
  const auto unwritable = run_xfer(
      {"export", run().string(), "-o", (*dir_ / "no" / "such" / "x.onnx").string()});
  EXPECT_EQ(unwritable.exit_code, 4) << unwritable.err;
  for (const auto& name : {"x.onnx", "x.pt", "x.tflite"}) {
    EXPECT_FALSE(fs::exists(*dir_ / name)) << name;
  }
}

}  // namespace
}  // namespace xfer::testing

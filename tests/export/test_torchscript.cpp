// Every architecture of the zoo written as TorchScript and run by LibTorch's torch::jit::load and
// by Python's torch.jit.load (Debian's python3-torch): logits within 1e-4 of the largest magnitude
// of xfer's own, on a batch of three (the trace used two), with the extra files read back.

#include "check.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/deploy/torchscript.h"
#include "xfer/models/registry.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/script.h>
#include <torch/utils.h>

#include <algorithm>
#include <fstream>

namespace xfer::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& info : models::all_models()) out.push_back(info.name);
  return out;
}

class ExportTorchScript : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportTorchScript, RunsInLibTorchAndPythonAsInXfer) {
  const std::string name = GetParam();
  torch::manual_seed(0);
  auto model = models::create_model(name, models::ModelOptions().num_classes(10));
  perturb_batch_norm(*model);
  model->eval();
  // The model's own input size, at most 224: EfficientNet-B7's 600 px would cost minutes and
  // trace to the same graph.
  const int64_t size = std::min<int64_t>(models::find_model(name).input.size, 224);
  const at::Tensor images = at::randn({3, 3, size, size});
  at::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = model->forward(images);
  }
  const fs::path dir = temp_dir("torchscript-" + name);
  const fs::path file = dir / "model.pt";
  deploy::TorchScriptOptions options;
  options.input_size = size;
  options.extra_files = {{"xfer.json", "{\"model\": \"" + name + "\"}"}};
  deploy::write_torchscript(*model, options, file);

  torch::jit::ExtraFilesMap extra = {{"xfer.json", ""}};
  torch::jit::Module loaded = torch::jit::load(file.string(), c10::nullopt, extra);
  EXPECT_EQ(extra["xfer.json"], options.extra_files["xfer.json"]);
  at::Tensor libtorch_logits;
  {
    torch::NoGradGuard no_grad;
    libtorch_logits = loaded.forward({images}).toTensor();
  }
  const double libtorch = relative_difference(libtorch_logits, logits);
  EXPECT_LE(libtorch, 1e-4);

  write_raw(dir / "input.bin", images);
  const auto python = run_process(
      XFER_PYTHON,
      {"-c",
       "import sys, numpy, torch\n"
       "files = {'xfer.json': ''}\n"
       "m = torch.jit.load(sys.argv[1], _extra_files=files)\n"
       "x = torch.from_numpy(numpy.fromfile(sys.argv[2], dtype=numpy.float32))"
       ".reshape(3, 3, int(sys.argv[3]), int(sys.argv[3]))\n"
       "with torch.no_grad():\n"
       "    m(x).numpy().astype(numpy.float32).tofile(sys.argv[4])\n"
       "print(files['xfer.json'].decode())\n",
       file.string(), (dir / "input.bin").string(), std::to_string(size),
       (dir / "logits.bin").string()});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  EXPECT_NE(python.out.find("\"model\": \"" + name + "\""), std::string::npos) << python.out;
  const double python_difference =
      relative_difference(read_raw(dir / "logits.bin", logits.sizes()), logits);
  EXPECT_LE(python_difference, 1e-4);
  std::cout << name << ": worst relative difference: libtorch " << libtorch << ", python "
            << python_difference << "\n";
}

INSTANTIATE_TEST_SUITE_P(Zoo, ExportTorchScript, ::testing::ValuesIn(names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace xfer::testing

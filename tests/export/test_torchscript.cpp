// Every architecture of the zoo written as TorchScript and run by LibTorch's torch::jit::load and
// by Python's torch.jit.load (Debian's python3-torch): logits within 1e-4 of the largest magnitude
// of xfer's own, on a batch of three (the trace used two), with the extra files read back.

#include "support/paths.h"
#include "support/process.h"
#include "xfer/deploy/torchscript.h"
#include "xfer/models/registry.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/script.h>
#include <torch/utils.h>

#include <fstream>

namespace xfer::testing {
namespace {

namespace fs = std::filesystem;

void perturb_batch_norm(models::ClassifierImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    auto* bn = module->as<torch::nn::BatchNorm2d>();
    if (bn == nullptr) continue;
    bn->running_mean.uniform_(-0.5, 0.5);
    bn->running_var.uniform_(0.5, 1.5);
  }
}

double relative_difference(const at::Tensor& actual, const at::Tensor& expected) {
  const double scale = expected.abs().max().item<double>();
  return (actual - expected).abs().max().item<double>() / std::max(scale, 1e-12);
}

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
  const int64_t size = models::find_model(name).input.size;
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

  {
    const at::Tensor data = images.contiguous();
    std::ofstream out(dir / "input.bin", std::ios::binary);
    out.write(static_cast<const char*>(data.data_ptr()), data.numel() * 4);
  }
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
  at::Tensor python_logits = at::empty(logits.sizes(), at::kFloat);
  std::ifstream in(dir / "logits.bin", std::ios::binary);
  in.read(static_cast<char*>(python_logits.data_ptr()), python_logits.numel() * 4);
  ASSERT_EQ(in.gcount(), python_logits.numel() * 4);
  const double python_difference = relative_difference(python_logits, logits);
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

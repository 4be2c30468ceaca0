#pragma once
// What the export tests share: models whose batch norm does something, raw float32 files for the
// runtimes outside xfer, ONNX Runtime run on them, and the one measure of agreement.

#include "support/process.h"
#include "xfer/models/classifier.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace xfer::testing {

/// Batch norm that does something: running statistics and affine parameters away from 0 and 1
/// (drawn from the global generator).
inline void perturb_batch_norm(models::ClassifierImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    auto* bn = module->as<torch::nn::BatchNorm2d>();
    if (bn == nullptr) continue;
    bn->running_mean.uniform_(-0.5, 0.5);
    bn->running_var.uniform_(0.5, 1.5);
    if (bn->weight.defined()) bn->weight.uniform_(0.5, 1.5);
    if (bn->bias.defined()) bn->bias.uniform_(-0.5, 0.5);
  }
}

/// Writes `tensor` as raw little-endian float32, row-major.
inline void write_raw(const std::filesystem::path& file, const at::Tensor& tensor) {
  const at::Tensor data = tensor.contiguous().to(at::kFloat);
  std::ofstream out(file, std::ios::binary);
  out.write(static_cast<const char*>(data.data_ptr()), data.numel() * 4);
}

/// Reads raw float32 of `sizes` from `file`; a short file fails the test.
inline at::Tensor read_raw(const std::filesystem::path& file, at::IntArrayRef sizes) {
  at::Tensor out = at::empty(sizes, at::kFloat);
  std::ifstream in(file, std::ios::binary);
  in.read(static_cast<char*>(out.data_ptr()), out.numel() * 4);
  EXPECT_EQ(in.gcount(), out.numel() * 4) << file;
  return out;
}

/// max |actual - expected| over the largest |expected|: the difference relative to the scale.
inline double relative_difference(const at::Tensor& actual, const at::Tensor& expected) {
  const double scale = expected.abs().max().item<double>();
  return (actual - expected).abs().max().item<double>() / std::max(scale, 1e-12);
}

#ifdef XFER_ORT_SCRIPT  // the targets that run ONNX Runtime define where it is
/// Runs the ONNX file `file` with ONNX Runtime (onnxruntime.js) on `images` [N, 3, H, W]: the
/// input is written to DIR/input.bin, each output to DIR/NAME.bin (read_raw reads them back).
inline ProcessResult run_onnxruntime(const std::filesystem::path& file, const at::Tensor& images,
                                     const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  write_raw(dir / "input.bin", images);
  std::string shape;
  for (int64_t d = 0; d < images.dim(); ++d) shape += (d ? "," : "") + std::to_string(images.size(d));
  setenv("NODE_PATH", XFER_NODE_MODULES, 1);
  return run_process(XFER_NODE,
                     {XFER_ORT_SCRIPT, file.string(), (dir / "input.bin").string(), shape, dir.string()});
}
#endif

}  // namespace xfer::testing

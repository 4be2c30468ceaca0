#include "xfer/core/runtime.h"

#include "xfer/core/compat.h"
#include "xfer/core/error.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <thread>

namespace xfer {

int set_threads(int threads) {
  if (threads < 0) {
    throw InvalidArgument("threads: expected 0 (all hardware threads) or a positive count, got " +
                          std::to_string(threads));
  }
  int n = threads;
  if (n == 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::kFloat32;
  if (text == "bf16") return Precision::kBFloat16;
  throw InvalidArgument("precision: expected 'fp32' or 'bf16', got '" + text + "'");
}

std::string to_string(Precision precision) {
  return precision == Precision::kBFloat16 ? "bf16" : "fp32";
}

c10::Device parse_device(const std::string& text) {
  if (text == "auto") return torch::cuda::is_available() ? c10::Device("cuda") : c10::Device("cpu");
  if (text == "cpu") return c10::Device("cpu");
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    c10::Device device("cpu");
    try {
      device = c10::Device(text);
    } catch (const c10::Error&) {
      throw InvalidArgument("device: expected 'cuda' or 'cuda:N', got '" + text + "'");
    }
    if (!torch::cuda::is_available()) {
      throw InvalidArgument("device: '" + text +
                            "' asked for, but this LibTorch has no usable CUDA device");
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      throw InvalidArgument("device: '" + text + "' asked for, but only " +
                            std::to_string(count) + " CUDA device(s) exist");
    }
    return device;
  }
  throw InvalidArgument("device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got '" + text + "'");
}

PrecisionScope::PrecisionScope(Precision precision, c10::Device device) {
  if (precision != Precision::kBFloat16) return;
  cuda_ = device.is_cuda();
  if (cuda_) {
    compat::set_cuda_autocast_bf16(true);
  } else {
    compat::set_cpu_autocast_bf16(true);
  }
  entered_ = true;
}

PrecisionScope::~PrecisionScope() {
  if (!entered_) return;
  if (cuda_) {
    compat::set_cuda_autocast_bf16(false);
  } else {
    compat::set_cpu_autocast_bf16(false);
  }
}

}  // namespace xfer

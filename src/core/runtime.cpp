#include "xfer/core/runtime.h"

#include "xfer/core/compat.h"
#include "xfer/core/cpus.h"
#include "xfer/core/error.h"

#include <ATen/Parallel.h>
#include <torch/utils.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

namespace xfer {

int set_threads(int threads) {
  if (threads < 0) {
    throw InvalidArgument("threads: expected 0 (every CPU the process may use) or a positive count, got " +
                          std::to_string(threads));
  }
  int n = threads;
  if (n == 0) n = usable_cpus();
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

Layout parse_layout(const std::string& text) {
  if (text == "nchw") return Layout::kNchw;
  if (text == "channels_last") return Layout::kChannelsLast;
  throw InvalidArgument("layout: expected 'nchw' or 'channels_last', got '" + text + "'");
}

std::string to_string(Layout layout) {
  return layout == Layout::kChannelsLast ? "channels_last" : "nchw";
}

Layout default_layout(int64_t image_size) {
  return image_size >= 112 ? Layout::kChannelsLast : Layout::kNchw;
}

namespace {
c10::MemoryFormat memory_format(Layout layout) {
  return layout == Layout::kChannelsLast ? c10::MemoryFormat::ChannelsLast
                                         : c10::MemoryFormat::Contiguous;
}
}  // namespace

void set_layout(torch::nn::Module& module, Layout layout) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) {
    if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(memory_format(layout)));
  }
  for (auto& buffer : module.buffers()) {
    if (buffer.dim() == 4) buffer.set_data(buffer.contiguous(memory_format(layout)));
  }
}

torch::Tensor to_layout(const torch::Tensor& images, Layout layout) {
  return images.contiguous(memory_format(layout));
}

namespace {

// Whether oneDNN may use its bf16 kernels: DNNL_MAX_CPU_ISA (or ONEDNN_MAX_CPU_ISA) can cap it
// below the CPU, as scripts/test-isa does. Capped at AVX2 on a CPU with AVX-512 BF16, LibTorch
// still sends bf16 convolutions to oneDNN (it checks the CPU, not the cap) and oneDNN finds no
// kernel for them: "could not create a primitive descriptor iterator".
bool onednn_has_bf16_kernels() {
  for (const char* variable : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
    const char* value = std::getenv(variable);
    if (value == nullptr || *value == '\0') continue;
    std::string isa(value);
    std::transform(isa.begin(), isa.end(), isa.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return isa == "ALL" || isa.find("BF16") != std::string::npos ||
           isa.find("AMX") != std::string::npos || isa.find("FP16") != std::string::npos;
  }
  return true;
}

}  // namespace

bool has_native_bf16(c10::Device device) {
  if (device.is_cuda()) return true;
  if (!onednn_has_bf16_kernels()) return false;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    return line.find(" avx512_bf16") != std::string::npos ||
           line.find(" amx_bf16") != std::string::npos;
  }
  return false;
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

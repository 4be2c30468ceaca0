#pragma once
// Process-wide runtime settings: threads, numeric precision, device.

#include <c10/core/Device.h>
#include <c10/core/MemoryFormat.h>
#include <torch/nn/module.h>

#include <string>

namespace xfer {

/// Sets LibTorch's intra-op threads: `threads` > 0 exactly, 0 for every CPU this process may run
/// on (usable_cpus; LibTorch 1.13 would use half of them). Returns the number in force.
/// Throws InvalidArgument for a negative count.
int set_threads(int threads);

/// Numeric precision of a model's forward pass.
enum class Precision { kFloat32, kBFloat16 };

/// Parses "fp32" or "bf16". Throws InvalidArgument naming the accepted values otherwise.
Precision parse_precision(const std::string& text);

/// "fp32" or "bf16".
std::string to_string(Precision precision);

/// Parses "auto", "cpu", "cuda" or "cuda:N"; "auto" is CUDA when LibTorch has a GPU, else CPU.
/// Throws InvalidArgument for anything else, or for CUDA when no GPU is available.
c10::Device parse_device(const std::string& text);

/// Whether `device` computes in bf16 natively (CUDA, or a CPU with AVX-512 BF16 or AMX), where
/// bf16 is faster than fp32; on other CPUs LibTorch emulates it, many times slower.
bool has_native_bf16(c10::Device device);

/// Memory layout of image batches and 4-d weights.
enum class Layout { kNchw, kChannelsLast };

/// Parses "nchw" or "channels_last". Throws InvalidArgument naming the accepted values otherwise.
Layout parse_layout(const std::string& text);

/// "nchw" or "channels_last".
std::string to_string(Layout layout);

/// The layout xfer uses when the user does not choose: channels_last for images of at least 112 px,
/// where it measured faster on CPU (docs/BENCHMARKS.md), NCHW below.
Layout default_layout(int64_t image_size);

/// Converts every 4-d parameter and buffer of `module` to `layout` in place (values unchanged).
void set_layout(torch::nn::Module& module, Layout layout);

/// `images` [N,C,H,W] in `layout` (same values).
torch::Tensor to_layout(const torch::Tensor& images, Layout layout);

/// While alive, runs forward passes on this thread in `precision` on `device` (bf16 autocast);
/// restores the previous state when destroyed. fp32 does nothing.
class PrecisionScope {
 public:
  /// Enters `precision` for `device`.
  PrecisionScope(Precision precision, c10::Device device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool entered_ = false;
  bool cuda_ = false;
};

}  // namespace xfer

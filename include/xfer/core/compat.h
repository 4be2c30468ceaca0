#pragma once
// The one place where xfer's code differs between LibTorch versions (1.13 on Debian 12, 2.x
// elsewhere). Everything else calls these functions instead of the versioned APIs.

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace xfer::compat {

/// Enables or disables CPU autocast to bfloat16 for the calling thread.
inline void set_cpu_autocast_bf16(bool enabled) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  at::autocast::set_autocast_enabled(at::kCPU, enabled);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
#else
  at::autocast::set_cpu_enabled(enabled);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
#endif
  if (!enabled) at::autocast::clear_cache();
}

/// Whether CPU autocast is enabled on the calling thread.
inline bool cpu_autocast_enabled() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

/// Enables or disables CUDA autocast to bfloat16 for the calling thread.
inline void set_cuda_autocast_bf16(bool enabled) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  if (!enabled) at::autocast::clear_cache();
}

}  // namespace xfer::compat

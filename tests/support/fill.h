#pragma once
// Closed-form weights and images, computed identically here and in tools/make_parity_references.py,
// so that parity with torchvision needs no weight file: both sides fill a model by name and index.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::testing {

/// Period of the fill: the largest prime below 2^16.
constexpr int64_t kFillPeriod = 65521;

/// FNV-1a (64 bits) of the bytes of `name`: what makes each tensor's fill differ.
uint64_t fill_name_hash(const std::string& name);

/// The closed-form value of the tensor called `name` (a state_dict key) of shape `shape`, float32.
///
/// With P = kFillPeriod and h = fill_name_hash(name), a = 1 + h mod (P-1), c = (h >> 16) mod P,
/// b = (h >> 32) mod P, element i of the flattened tensor is, computed in double and rounded to
/// float at the end:
///
///     j = i mod P,  r = (a j^2 + c j + b) mod P  (exact int64),  g = cos(2 pi r / P)
///     value = offset + scale * g
///
/// The chirp r makes g a bounded, zero-mean, pseudo-random-looking sequence (variance 1/2) with no
/// large arguments to cos. offset and scale depend on the name's last dotted component and the
/// rank:
///   - rank >= 2 (conv and linear weights [out, in/groups, ...]): offset 0, scale
///     sqrt(2 * 2 / fan_in) with fan_in = numel / shape[0], i.e. variance 2 / fan_in (He's), so
///     activations keep their size through ReLU networks (vgg16 without BN stays O(1); residual sums
///     grow resnet50's logits to O(1e3), which relative comparison absorbs);
///   - `running_var`, or `weight` of rank 1 (BatchNorm): offset 1, scale 0.25, in [0.75, 1.25],
///     so running variances are strictly positive and eval-mode BatchNorm really uses them;
///   - anything else (biases, `running_mean`, scalars): offset 0, scale 0.1.
/// Throws InvalidArgument for a negative dimension.
torch::Tensor closed_form_tensor(const std::string& name, const std::vector<int64_t>& shape);

/// Overwrites every floating-point parameter and buffer of `module` (recursively, by its dotted
/// name) with closed_form_tensor(name, shape); integer buffers (num_batches_tracked) stay as they
/// are. Works under NoGradGuard itself, so leaves requires_grad unchanged.
void fill_closed_form(torch::nn::Module& module);

/// The closed-form image batch [n,3,h,w] float32, computed in double: at image k, channel c, row y,
/// column x, sin(0.071 y (c+1) + 0.113 x + 1.3 c + 2.9 k) + 0.5 cos(0.0037 x y + 0.5 k - c),
/// in [-1.5, 1.5] like normalised pixels. Throws InvalidArgument unless n, h, w are positive.
torch::Tensor closed_form_images(int64_t n, int64_t h, int64_t w);

}  // namespace xfer::testing

#pragma once
// Putting a StateDict into any torch::nn::Module by key, and taking one out of it.

#include "xfer/weights/checkpoint.h"

#include <torch/arg.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::weights {

/// The module's parameters and persistent buffers in Python's `state_dict()` order: depth first
/// over named_modules(), each module's own parameters then its own buffers. The tensors are the
/// module's own (no copies).
StateDict state_dict_of(const torch::nn::Module& module);

/// How load_into treats keys that do not fit.
struct LoadPolicy {
  /// Throw WeightMismatch when anything is missing, unexpected or wrongly shaped; otherwise load
  /// what fits and only report the rest.
  TORCH_ARG(bool, strict) = true;
  /// A module path (e.g. the head "fc"): keys equal to it or under `<skip_prefix>.` are neither
  /// loaded nor required, and are reported as skipped. Empty: skip nothing.
  TORCH_ARG(std::string, skip_prefix) = "";
};

/// A tensor whose shape differs between the weights and the module.
struct ShapeMismatch {
  /// The key, e.g. "fc.weight".
  std::string name;
  /// Shape in the weights.
  std::vector<int64_t> got;
  /// Shape in the module.
  std::vector<int64_t> expected;
};

/// A tensor whose values cannot be converted to the module's dtype: integers (or bools) for a
/// floating-point parameter, such as the integer representation of a quantized tensor.
struct DtypeMismatch {
  /// The key, e.g. "conv1.weight".
  std::string name;
  /// dtype in the weights, e.g. "int8".
  std::string got;
  /// dtype in the module, e.g. "float32".
  std::string expected;
};

/// What load_into did, key by key.
struct LoadReport {
  /// Keys copied into the module.
  std::vector<std::string> loaded;
  /// Module keys the weights lack.
  std::vector<std::string> missing;
  /// Weight keys the module lacks.
  std::vector<std::string> unexpected;
  /// Weight keys left out by LoadPolicy::skip_prefix.
  std::vector<std::string> skipped;
  /// Batch-norm `num_batches_tracked` counters the weights lack (files from before PyTorch
  /// 0.4.1): set to zero, as PyTorch does, and not counted as missing.
  std::vector<std::string> defaulted;
  /// Keys present on both sides with different shapes.
  std::vector<ShapeMismatch> mismatched;
  /// Keys present on both sides with the same shape whose integer values would be taken for
  /// floating-point ones.
  std::vector<DtypeMismatch> wrong_dtype;
  /// Multi-line account: "loaded 120 of 122 tensors", then one line per problem
  /// ("wrong shape for 'fc.weight': got [1000, 512], expected [10, 512]", "missing 'x'",
  /// "unexpected 'y'") and the skipped keys.
  std::string summary() const;
};

/// Copies the tensors of `weights` into the module's parameters and buffers of the same name,
/// converted to the module's dtype and device, without recording gradients; integer or bool
/// tensors are never taken for floating-point parameters (a quantized file's integer
/// representation would load as garbage) and are reported in `wrong_dtype`. Under a strict
/// policy nothing is copied unless every module key (outside skip_prefix) is matched by a tensor
/// of the same shape and a convertible dtype and no weight key is left over; otherwise throws
/// WeightMismatch listing every problem at once ("not all tensors loaded: expected 122, got 120",
/// then each name).
LoadReport load_into(torch::nn::Module& module, const StateDict& weights,
                     const LoadPolicy& policy = {});

}  // namespace xfer::weights

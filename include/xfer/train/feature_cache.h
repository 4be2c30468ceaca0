#pragma once
// Feature extraction computes the frozen backbone once: the pooled features of every split are
// computed in one pass and kept on disk, keyed by what they depend on (the backbone's weights,
// the transform, the samples), so later epochs and later runs train the head from memory.

#include "xfer/core/runtime.h"
#include "xfer/data/splits.h"
#include "xfer/models/classifier.h"
#include "xfer/transforms/transform.h"

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <string>

namespace xfer::dist {
class Group;
}

namespace xfer::train {

/// The backbone's pooled features of one split.
struct SplitFeatures {
  /// [N, feature_dim] float32, on the CPU.
  at::Tensor features;
  /// [N] int64 labels.
  at::Tensor labels;
};

/// The features of a run's three splits.
struct RunFeatures {
  /// Of the train split.
  SplitFeatures train;
  /// Of the validation split.
  SplitFeatures val;
  /// Of the test split (empty tensors when there is none).
  SplitFeatures test;
  /// The cache file read or written; empty when caching was off or impossible.
  std::filesystem::path file;
  /// Whether they were read from the cache rather than computed.
  bool cached = false;
};

/// How the backbone pass runs.
struct FeatureOptions {
  /// Images per forward pass.
  int64_t batch_size = 64;
  /// Loader worker threads; 0 for every CPU the process may use (usable_cpus).
  int64_t workers = 0;
  /// Precision of the backbone's pass.
  Precision precision = Precision::kFloat32;
  /// Run the backbone on its folded graph (infer::FrozenBackbone); false: eagerly.
  bool fuse = true;
  /// Told, once, why the folded graph fell back to the eager pass.
  std::function<void(const std::string&)> log;
  /// Folder of the cache; empty disables caching.
  std::filesystem::path cache_dir;
  /// With several ranks: each computes its shard of every split and all get the whole; the
  /// cache is read when every rank has it, and written by local rank 0 of each machine.
  dist::Group* group = nullptr;
  /// Called after each batch: (split name, batches done, batches in the split).
  std::function<void(const std::string& split, int64_t done, int64_t total)> progress;
};

/// The cache key of (backbone weights, transform, splits, precision, fused or eager pass): 64 hex
/// digits of SHA-256 over the model's name, every backbone tensor's name, shape and bytes (the
/// head excluded), the transform's spec and each split's samples (labels and file names or source
/// indices).
std::string feature_key(const std::string& model_name, const models::ClassifierImpl& model,
                        const transforms::Transform& transform, const data::Splits& splits,
                        Precision precision, bool fused);

/// The features of `splits` through `model`'s backbone (eval mode, no gradients) with
/// `transform`, read from `options.cache_dir` when present there, else computed and written
/// there atomically (as safetensors). A damaged cache file is recomputed. Throws
/// InvalidArgument for a random transform (its outputs cannot be cached), and what the loader
/// throws.
RunFeatures extract_features(const std::string& model_name, models::ClassifierImpl& model,
                             const data::Splits& splits, const transforms::Transform& transform,
                             const FeatureOptions& options);

}  // namespace xfer::train

#pragma once
// Running a model over a split without training it: the test and validation passes of a run,
// `xfer eval`, and the head over cached features. Logits become an eval::Evaluation and,
// when asked, one run::Prediction per sample.

#include "xfer/core/runtime.h"
#include "xfer/data/dataset.h"
#include "xfer/eval/metrics.h"
#include "xfer/models/classifier.h"
#include "xfer/run/files.h"
#include "xfer/train/feature_cache.h"
#include "xfer/transforms/transform.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace xfer::dist {
class Group;
}

namespace xfer::train {

/// Where a run is within its current pass over a split.
struct BatchProgress {
  /// "features" (the frozen backbone's one pass), "train", "val" or "test".
  std::string phase;
  /// Epoch, from 1 (0 for the features and test passes).
  int64_t epoch = 0;
  /// Epochs in the run.
  int64_t epochs = 0;
  /// Batches done in this pass.
  int64_t batch = 0;
  /// Batches in this pass.
  int64_t batches = 0;
  /// Samples done in this pass.
  int64_t samples = 0;
  /// Seconds since the pass began.
  double seconds = 0;
  /// Mean training loss so far in this pass (train phase only).
  double loss = 0;
};

/// How `evaluate` runs a model over a dataset.
struct EvalOptions {
  /// The eval transform (TrainedModel::eval_transform).
  transforms::Transform transform;
  /// Images per batch.
  int64_t batch_size = 64;
  /// Loader threads; 0 for every CPU the process may use (usable_cpus).
  int64_t workers = 0;
  /// Precision of the backbone's pass (model.features); the head always runs in fp32.
  Precision backbone_precision = Precision::kFloat32;
  /// Run the backbone on its folded graph (infer::FrozenBackbone); false: eagerly.
  bool fuse = true;
  /// Told, once, why the folded graph fell back to the eager pass.
  std::function<void(const std::string&)> log;
  /// Test-time augmentation: each image's class probabilities are the mean of its own and its
  /// horizontal mirror's (tta_flip_logits); loss and predictions are of that mean.
  bool tta_flip = false;
  /// Five-crop test-time augmentation: `transform` ends in five_crop (five_crop_transform), and
  /// each image's class probabilities are the mean of its five crops' (tta_mean_logits); with
  /// tta_flip too, of the ten crops and mirrors (ten-crop).
  bool tta_five_crop = false;
  /// When given, filled with one row per sample, in the dataset's order.
  std::vector<run::Prediction>* predictions = nullptr;
  /// Called after each batch.
  std::function<void(const BatchProgress&)> progress;
  /// With a group, each rank runs its shard and every rank gets the whole evaluation.
  dist::Group* group = nullptr;
};

/// Logits whose softmax is the mean of softmax(`logits`) and softmax(`mirrored`) (both [N, C]):
/// log((softmax(a) + softmax(b)) / 2), computed as logsumexp of the log-softmaxes − log 2.
at::Tensor tta_flip_logits(const at::Tensor& logits, const at::Tensor& mirrored);

/// Logits whose softmax is the mean over dimension 1 of softmax(`logits`) ([N, K, C] → [N, C]):
/// logsumexp of the log-softmaxes − log K.
at::Tensor tta_mean_logits(const at::Tensor& logits);

/// The eval transform of five-crop test-time augmentation for a model with this input: Resize
/// (shorter side `input.resize`, `input.interpolation`), FiveCrop(`input.size`), Normalize. Throws InvalidArgument when
/// the resize does not exceed the crop (five crops of the whole image would all be the image).
transforms::Transform five_crop_transform(const models::InputSpec& input);

/// Images that five_crop_transform prepared, [N, 3, 5S, S] (each image's crops stacked along
/// its height), as one batch of crops [5N, 3, S, S], each image's five adjacent, in `format`.
at::Tensor five_crops_as_batch(const at::Tensor& images, at::MemoryFormat format);

/// Runs `model` (eval mode, no gradients) over `dataset` as `options` say: loss, top-1, top-5
/// and the confusion matrix. Throws what the loader throws.
eval::Evaluation evaluate(models::ClassifierImpl& model, const data::Dataset& dataset,
                          const EvalOptions& options);

/// Runs the head of `model` (eval mode, no gradients) over the cached features of `split`, in
/// batches of `batch_size` on `device`. With `predictions`, appends one row per sample, its file
/// from `dataset` when given. Leaves `model` in eval mode.
eval::Evaluation evaluate_features(models::ClassifierImpl& model, const SplitFeatures& split,
                                   int64_t batch_size, c10::Device device,
                                   std::vector<run::Prediction>* predictions,
                                   const data::Dataset* dataset);

}  // namespace xfer::train

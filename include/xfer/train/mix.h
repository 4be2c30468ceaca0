#pragma once
// MixUp and CutMix as timm's Mixup does them in its default 'batch' mode: one draw a batch, each
// image mixed with the batch's mirror image (the batch reversed), soft targets mixed alike, and
// the soft-target cross-entropy they train with.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>

namespace xfer::train {

/// timm's Mixup arguments.
struct MixOptions {
  /// Beta(α, α) of MixUp's mixing ratio; 0 turns MixUp off.
  double mixup_alpha = 0;
  /// Beta(α, α) of CutMix's ratio; 0 turns CutMix off.
  double cutmix_alpha = 0;
  /// Probability that a batch is mixed at all.
  double prob = 1;
  /// With both on, probability that a mixed batch uses CutMix rather than MixUp.
  double switch_prob = 0.5;
};

/// What one batch drew.
struct BatchMix {
  /// The share of each image in its own mix (1: unmixed); for CutMix, corrected to the share of
  /// pixels outside the box (timm's correct_lam).
  double lam = 1;
  /// CutMix (the box pasted from the mirror image) rather than MixUp (a blend).
  bool cutmix = false;
  /// CutMix's box: rows [top, bottom) and columns [left, right), clipped to the image.
  int64_t top = 0;
  int64_t bottom = 0;
  int64_t left = 0;
  int64_t right = 0;
};

/// timm's `_params_per_batch` and `cutmix_bbox_and_lam` for images of height × width: mixed with
/// probability options.prob; CutMix with probability switch_prob when both are on; the ratio from
/// Beta(α, α); CutMix's box of sides int(side × √(1 − λ)) centred uniformly, clipped, and λ
/// corrected to 1 − box area / image area.
BatchMix draw_mix(const MixOptions& options, int64_t height, int64_t width, std::mt19937_64& rng);

/// Mixes `images` [N, C, H, W] in place with their mirror images (images.flip(0)): MixUp blends
/// λ × x + (1 − λ) × mirror; CutMix pastes the mirror's box.
void mix_images(at::Tensor& images, const BatchMix& mix);

/// timm's mixup_target: λ × smoothed one-hot(labels) + (1 − λ) × smoothed one-hot(labels
/// reversed), each smoothed one-hot 1 − smoothing + smoothing / classes on the label and
/// smoothing / classes elsewhere. labels [N] (int64); returns [N, classes] float32.
at::Tensor mix_targets(const at::Tensor& labels, int64_t classes, double lam, double smoothing);

/// timm's SoftTargetCrossEntropy: mean over the batch of −Σ target × log_softmax(logits).
/// logits and targets [N, classes].
at::Tensor soft_target_cross_entropy(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace xfer::train

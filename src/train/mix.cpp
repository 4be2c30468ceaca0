// Mirrors timm's data/mixup.py (Mixup in 'batch' mode, rand_bbox, cutmix_bbox_and_lam,
// mixup_target) and loss/cross_entropy.py (SoftTargetCrossEntropy).

#include "xfer/train/mix.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace xfer::train {
namespace {

// Beta(α, α) from two Gamma(α, 1) draws.
double beta(double alpha, std::mt19937_64& rng) {
  std::gamma_distribution<double> gamma(alpha, 1.0);
  const double x = gamma(rng);
  const double y = gamma(rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

double uniform(std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0, 1)(rng); }

}  // namespace

BatchMix draw_mix(const MixOptions& options, int64_t height, int64_t width, std::mt19937_64& rng) {
  BatchMix mix;
  const bool mixup = options.mixup_alpha > 0;
  const bool cutmix = options.cutmix_alpha > 0;
  if (!(mixup || cutmix) || !(uniform(rng) < options.prob)) return mix;
  mix.cutmix = cutmix && (!mixup || uniform(rng) < options.switch_prob);
  mix.lam = beta(mix.cutmix ? options.cutmix_alpha : options.mixup_alpha, rng);
  if (!mix.cutmix) return mix;
  // rand_bbox: the box's sides, then its centre uniform over the image.
  const double ratio = std::sqrt(1 - mix.lam);
  const auto cut_h = static_cast<int64_t>(static_cast<double>(height) * ratio);
  const auto cut_w = static_cast<int64_t>(static_cast<double>(width) * ratio);
  const int64_t cy = std::uniform_int_distribution<int64_t>(0, height - 1)(rng);
  const int64_t cx = std::uniform_int_distribution<int64_t>(0, width - 1)(rng);
  mix.top = std::clamp<int64_t>(cy - cut_h / 2, 0, height);
  mix.bottom = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
  mix.left = std::clamp<int64_t>(cx - cut_w / 2, 0, width);
  mix.right = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
  const auto area = static_cast<double>((mix.bottom - mix.top) * (mix.right - mix.left));
  mix.lam = 1.0 - area / static_cast<double>(height * width);
  return mix;
}

void mix_images(at::Tensor& images, const BatchMix& mix) {
  if (mix.lam == 1.0) return;
  at::NoGradGuard no_grad;
  const at::Tensor mirror = images.flip(0);
  if (mix.cutmix) {
    auto box = [&](const at::Tensor& t) {
      return t.slice(2, mix.top, mix.bottom).slice(3, mix.left, mix.right);
    };
    box(images).copy_(box(mirror));
  } else {
    images.mul_(mix.lam).add_(mirror.mul(1.0 - mix.lam));
  }
}

at::Tensor mix_targets(const at::Tensor& labels, int64_t classes, double lam, double smoothing) {
  const double off = smoothing / static_cast<double>(classes);
  const double on = 1.0 - smoothing + off;
  const auto one_hot = [&](const at::Tensor& y) {
    return at::full({y.size(0), classes}, off, labels.options().dtype(at::kFloat))
        .scatter_(1, y.unsqueeze(1), on);
  };
  return one_hot(labels) * lam + one_hot(labels.flip(0)) * (1.0 - lam);
}

at::Tensor soft_target_cross_entropy(const at::Tensor& logits, const at::Tensor& targets) {
  return (-targets * at::log_softmax(logits, -1)).sum(-1).mean();
}

}  // namespace xfer::train

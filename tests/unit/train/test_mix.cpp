// MixUp and CutMix as timm defines them: the draws, the mixed images, the soft targets and their
// loss.

#include "xfer/train/mix.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace xfer::train {
namespace {

TEST(Mix, TargetsAreSmoothedOneHotsMixedWithTheReversedBatch) {
  const at::Tensor labels = at::tensor({0, 2, 1}, at::kLong);
  const at::Tensor t = mix_targets(labels, 4, 0.7, 0.2);
  ASSERT_EQ(t.sizes(), (c10::IntArrayRef{3, 4}));
  // Row 0 mixes label 0 (×0.7) with label 1 (the last row's, ×0.3); smoothing 0.2 over 4
  // classes puts 0.05 on each class and 0.85 on the label.
  const float expected[4] = {0.7f * 0.85f + 0.3f * 0.05f, 0.7f * 0.05f + 0.3f * 0.85f, 0.05f,
                             0.05f};
  for (int64_t k = 0; k < 4; ++k) EXPECT_NEAR(t[0][k].item<float>(), expected[k], 1e-6) << k;
  EXPECT_TRUE(at::allclose(t.sum(1), at::ones({3})));
  // Unmixed and unsmoothed: one-hot.
  EXPECT_TRUE(at::equal(mix_targets(labels, 4, 1.0, 0.0), at::one_hot(labels, 4).to(at::kFloat)));
}

TEST(Mix, SoftCrossEntropyOfOneHotTargetsIsTheCrossEntropy) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({5, 3});
  const at::Tensor labels = at::tensor({0, 1, 2, 2, 1}, at::kLong);
  const at::Tensor soft = soft_target_cross_entropy(logits, at::one_hot(labels, 3).to(at::kFloat));
  EXPECT_NEAR(soft.item<double>(), at::cross_entropy_loss(logits, labels).item<double>(), 1e-6);
}

TEST(Mix, MixUpBlendsEachImageWithItsMirrorAndCutMixPastesABox) {
  at::manual_seed(4);
  const at::Tensor x = at::rand({4, 3, 10, 12});
  BatchMix blend;
  blend.lam = 0.3;
  at::Tensor mixed = x.clone();
  mix_images(mixed, blend);
  EXPECT_TRUE(at::allclose(mixed, x * 0.3 + x.flip(0) * 0.7));

  BatchMix box;
  box.cutmix = true;
  box.lam = 0.5;
  box.top = 2;
  box.bottom = 7;
  box.left = 3;
  box.right = 9;
  mixed = x.clone();
  mix_images(mixed, box);
  const auto inside = [](const at::Tensor& t) { return t.slice(2, 2, 7).slice(3, 3, 9); };
  EXPECT_TRUE(at::equal(inside(mixed), inside(x.flip(0))));
  at::Tensor outside = mixed.clone();
  inside(outside).copy_(inside(x));
  EXPECT_TRUE(at::equal(outside, x));
  // Channels-last batches (the loader's layout for CNNs) mix the same.
  at::Tensor last = x.contiguous(at::MemoryFormat::ChannelsLast);
  mix_images(last, box);
  EXPECT_TRUE(at::equal(last, mixed));
}

TEST(Mix, DrawsFollowTimmsProbabilitiesAndCorrectCutMixsRatio) {
  std::mt19937_64 rng(7);
  MixOptions off;
  EXPECT_EQ(draw_mix(off, 10, 10, rng).lam, 1.0);
  MixOptions never;
  never.mixup_alpha = 1;
  never.prob = 0;
  EXPECT_EQ(draw_mix(never, 10, 10, rng).lam, 1.0);

  MixOptions both;
  both.mixup_alpha = 0.2;
  both.cutmix_alpha = 1.0;
  both.switch_prob = 0.5;
  int cutmixes = 0;
  double mixup_lams = 0;
  const int draws = 2000;
  for (int i = 0; i < draws; ++i) {
    const BatchMix m = draw_mix(both, 24, 32, rng);
    ASSERT_GE(m.lam, 0.0);
    ASSERT_LE(m.lam, 1.0);
    if (!m.cutmix) {
      mixup_lams += std::min(m.lam, 1 - m.lam);
      continue;
    }
    ++cutmixes;
    ASSERT_LE(0, m.top);
    ASSERT_LE(m.top, m.bottom);
    ASSERT_LE(m.bottom, 24);
    ASSERT_LE(0, m.left);
    ASSERT_LE(m.left, m.right);
    ASSERT_LE(m.right, 32);
    // λ is the share of pixels outside the (clipped) box.
    EXPECT_DOUBLE_EQ(
        m.lam, 1.0 - static_cast<double>((m.bottom - m.top) * (m.right - m.left)) / (24.0 * 32.0));
  }
  EXPECT_GT(cutmixes, draws * 0.45);
  EXPECT_LT(cutmixes, draws * 0.55);
  // Beta(0.2, 0.2) puts most of its mass near 0 and 1: the smaller share averages about 0.15
  // (Beta(1, 1) would give 0.25).
  EXPECT_LT(mixup_lams / (draws - cutmixes), 0.2);
}

}  // namespace
}  // namespace xfer::train

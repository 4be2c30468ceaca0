#pragma once
// The learning-rate range test (Smith 2017; fastai's lr_find): train from a run's start with a
// rate that grows exponentially every batch, record the smoothed loss, and suggest the rate in
// the middle of the longest stretch where the loss falls.

#include <torch/arg.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xfer::train {

/// How find_lr sweeps.
struct LrFindOptions {
  /// The rate of the first batch.
  TORCH_ARG(double, start_lr) = 1e-7;
  /// The rate of the last batch.
  TORCH_ARG(double, end_lr) = 10;
  /// Batches in the sweep, one rate each: start_lr × (end_lr / start_lr)^(i / (iterations − 1)).
  TORCH_ARG(int64_t, iterations) = 100;
  /// Stop once the smoothed loss exceeds 4 × its lowest so far, or is not finite.
  TORCH_ARG(bool, stop_div) = true;
};

/// What a sweep measured.
struct LrSweep {
  /// The rate of each batch (of the head; a fine-tuned backbone's is backbone_lr_mult × it).
  std::vector<double> lrs;
  /// The loss after each batch, smoothed as fastai does: an exponential moving average with
  /// β = 0.98, divided by 1 − β^(i+1).
  std::vector<double> losses;
  /// Whether the sweep stopped early because the loss diverged (stop_div).
  bool diverged = false;
  /// Index of the suggested rate in `lrs` (lr_valley).
  size_t valley = 0;
};

/// fastai's `valley` suggestion: over `losses` without their first iterations / 10 and last 5
/// points (all of them when fewer than 2 would remain), the longest decreasing subsequence, and
/// the point 1/3 + 1/6 of the way along the span it covers. Returns an index into `losses`.
/// Throws InvalidArgument for no losses.
size_t lr_valley(const std::vector<double>& losses, int64_t iterations);

/// Checks a sweep's options: 0 < start_lr < end_lr, at least 2 iterations. Throws
/// InvalidArgument naming the option, what it expects and what it got.
void validate(const LrFindOptions& options);

}  // namespace xfer::train

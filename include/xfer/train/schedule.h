#pragma once
// Learning-rate schedules as a pure function of the step, so a resumed run needs no schedule
// state beyond the step number.

#include <cstdint>

namespace xfer::train {

/// The shape of a learning-rate schedule (Schedule::factor says what each does).
enum class ScheduleKind {
  /// The base rate throughout (after any warm-up).
  kConstant,
  /// Multiplied by gamma every step_epochs epochs.
  kStep,
  /// Cosine annealing to 0 at the last step.
  kCosine,
  /// PyTorch's OneCycleLR: up, then down far below the base rate.
  kOneCycle,
  /// fastai's fine_tune: a one-cycle over the frozen epochs at twice the base rate, then another
  /// over the rest at the base rate.
  kFastai,
};

/// A schedule over a run of `total_steps` optimizer steps.
struct Schedule {
  /// Its shape.
  ScheduleKind kind = ScheduleKind::kConstant;
  /// Steps in one epoch.
  int64_t steps_per_epoch = 1;
  /// Steps in the whole run.
  int64_t total_steps = 1;
  /// Epochs of linear warm-up from 0 (constant, step and cosine).
  double warmup_epochs = 0;
  /// Step schedule: epochs between multiplications by gamma.
  int64_t step_epochs = 10;
  /// Step schedule's factor.
  double gamma = 0.1;
  /// Steps with the backbone frozen at the start (fastai restarts its cycle after them).
  int64_t frozen_steps = 0;

  /// The factor that multiplies each base learning rate at step `step` (from 0): warm-up ramps
  /// linearly to 1; step multiplies by gamma every step_epochs epochs; cosine anneals to 0 at
  /// total_steps; onecycle follows PyTorch's OneCycleLR defaults (30 % up from 1/25 by cosine,
  /// then down to 1/(25 × 10⁴)); fastai is fit_one_cycle twice, as fastai's fine_tune calls it:
  /// over the frozen steps 2 × combined_cos(pct 0.99, 1/25 → 1 → 1/10⁵), then over the rest
  /// combined_cos(pct 0.3, 1/5 → 1 → 1/10⁵), each at position step / steps of its cycle.
  double factor(int64_t step) const;
};

}  // namespace xfer::train

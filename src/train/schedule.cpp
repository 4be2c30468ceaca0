#include "xfer/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace xfer::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Cosine from `from` at t = 0 to `to` at t = 1.
double anneal(double from, double to, double t) {
  return to + (from - to) * 0.5 * (1 + std::cos(kPi * std::clamp(t, 0.0, 1.0)));
}

// fastai's combined_cos(pct, start, 1, end) at position `pos` in [0, 1).
double combined_cos(double pct, double start, double end, double pos) {
  return pos < pct ? anneal(start, 1.0, pos / pct) : anneal(1.0, end, (pos - pct) / (1 - pct));
}

}  // namespace

double Schedule::factor(int64_t step) const {
  const double s = static_cast<double>(step);
  const double total = static_cast<double>(std::max<int64_t>(total_steps, 1));
  if (kind == ScheduleKind::kFastai) {
    // fine_tune: fit_one_cycle(freeze_epochs, 2 × lr, pct_start=0.99), then
    // fit_one_cycle(epochs, lr, pct_start=0.3, div=5); div_final 1e5 in both.
    if (step < frozen_steps) {
      return 2 * combined_cos(0.99, 1.0 / 25, 1e-5, s / static_cast<double>(frozen_steps));
    }
    const double rest = std::max(total - static_cast<double>(frozen_steps), 1.0);
    return combined_cos(0.3, 1.0 / 5, 1e-5, (s - static_cast<double>(frozen_steps)) / rest);
  }
  if (kind == ScheduleKind::kOneCycle) {
    // torch.optim.lr_scheduler.OneCycleLR(pct_start=0.3, div_factor=25, final_div_factor=1e4).
    const double up = 0.3 * total - 1;
    const double initial = 1.0 / 25;
    const double final = initial / 1e4;
    if (s <= up) return anneal(initial, 1.0, up > 0 ? s / up : 1.0);
    return anneal(1.0, final, (s - up) / std::max(total - 1 - up, 1.0));
  }
  const double warmup = warmup_epochs * static_cast<double>(steps_per_epoch);
  if (s < warmup) return (s + 1) / warmup;
  if (kind == ScheduleKind::kStep) {
    const auto epoch = step / std::max<int64_t>(steps_per_epoch, 1);
    return std::pow(gamma, static_cast<double>(epoch / std::max<int64_t>(step_epochs, 1)));
  }
  if (kind == ScheduleKind::kCosine) {
    return anneal(1.0, 0.0, (s - warmup) / std::max(total - warmup, 1.0));
  }
  return 1.0;
}

}  // namespace xfer::train

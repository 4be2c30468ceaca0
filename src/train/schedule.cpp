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

}  // namespace

double Schedule::factor(int64_t step) const {
  const double s = static_cast<double>(step);
  const double total = static_cast<double>(std::max<int64_t>(total_steps, 1));
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

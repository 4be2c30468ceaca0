#include "detail/format.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace xfer::viz::detail {

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

std::pair<double, double> finite_range(const double* values, int64_t count) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) continue;
    lo = std::min(lo, values[i]);
    hi = std::max(hi, values[i]);
  }
  if (lo > hi) return {0, 0};
  return {lo, hi};
}

std::string percent_text(double fraction, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f%%", decimals, fraction * 100);
  return buffer;
}

}  // namespace xfer::viz::detail

#pragma once
// Numbers and shapes as the pictures and the report print them.

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>
#include <utility>

namespace xfer::viz::detail {

/// `value` with 3 significant digits ("0.0123", "1.23e+04", "-7"); "nan" or "inf" as such.
std::string number_text(double value);

/// Smallest and largest finite value of `values[0..count)`; (0, 0) when none is finite.
std::pair<double, double> finite_range(const double* values, int64_t count);

/// `fraction` (0.9123) as a percentage with `decimals` digits ("91.2%").
std::string percent_text(double fraction, int decimals = 1);

}  // namespace xfer::viz::detail

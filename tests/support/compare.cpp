#include "support/compare.h"

#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <sstream>

namespace xfer::testing {
namespace {

std::string shape_text(torch::IntArrayRef shape) {
  std::ostringstream text;
  text << "[";
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? "," : "") << shape[i];
  text << "]";
  return text.str();
}

// Row-major multi-dimensional index of `flat` in `shape`.
std::string unravel(int64_t flat, torch::IntArrayRef shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return shape_text(index);
}

// The comparison proper over actual[flat_indices[k]] against expected[k].
::testing::AssertionResult compare(const double* actual, int64_t actual_numel,
                                   torch::IntArrayRef shape,
                                   const std::vector<int64_t>& flat_indices,
                                   const double* expected, double rtol, double atol) {
  int64_t failures = 0;
  int64_t worst = -1;
  double worst_excess = 0;
  for (size_t k = 0; k < flat_indices.size(); ++k) {
    const int64_t flat = flat_indices[k];
    if (flat < 0 || flat >= actual_numel) {
      return ::testing::AssertionFailure()
             << "index " << flat << " outside a tensor of shape " << shape_text(shape) << " ("
             << actual_numel << " elements)";
    }
    const double a = actual[flat];
    const double e = expected[k];
    const double excess = std::abs(a - e) - (atol + rtol * std::abs(e));
    // A NaN on either side fails and counts as the worst of all.
    const bool fails = !(excess <= 0);
    if (!fails) continue;
    ++failures;
    const double rank = std::isnan(excess) ? INFINITY : excess;
    if (worst < 0 || rank > worst_excess) {
      worst = static_cast<int64_t>(k);
      worst_excess = rank;
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  const int64_t flat = flat_indices[worst];
  const double a = actual[flat];
  const double e = expected[worst];
  ::testing::AssertionResult result = ::testing::AssertionFailure();
  result << "value not match at " << unravel(flat, shape) << " (flat " << flat << ") of "
         << shape_text(shape) << ": expected " << std::setprecision(9) << e << " but got " << a
         << " (|diff| " << std::abs(a - e) << " > atol " << atol << " + rtol " << rtol
         << " * |expected|); " << failures << " of " << flat_indices.size()
         << " compared elements out of tolerance";
  return result;
}

}  // namespace

::testing::AssertionResult all_close(const torch::Tensor& actual, const torch::Tensor& expected,
                                     double rtol, double atol) {
  if (!actual.sizes().equals(expected.sizes())) {
    return ::testing::AssertionFailure() << "shape mismatch: expected " << shape_text(expected.sizes())
                                         << " but got " << shape_text(actual.sizes());
  }
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const torch::Tensor e = expected.detach().to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<int64_t> indices(static_cast<size_t>(a.numel()));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  return compare(a.data_ptr<double>(), a.numel(), actual.sizes(), indices, e.data_ptr<double>(),
                 rtol, atol);
}

::testing::AssertionResult all_close_at(const torch::Tensor& actual,
                                        const std::vector<int64_t>& flat_indices,
                                        const std::vector<double>& expected, double rtol,
                                        double atol) {
  if (flat_indices.size() != expected.size()) {
    return ::testing::AssertionFailure() << "expected one value per index, got " << expected.size()
                                         << " values for " << flat_indices.size() << " indices";
  }
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return compare(a.data_ptr<double>(), a.numel(), actual.sizes(), flat_indices, expected.data(),
                 rtol, atol);
}

}  // namespace xfer::testing

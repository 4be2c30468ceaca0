#pragma once
// Comparison of a computed tensor with a reference, reporting the worst element as ncnn's layer
// tests do: "value not match at [n,c,h,w]: expected X but got Y".

#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace xfer::testing {

/// Success when `actual` and `expected` have the same shape and every element satisfies
/// |actual - expected| <= atol + rtol * |expected| (a NaN anywhere fails). Both are read as double
/// whatever their dtype. On failure the message gives the shape mismatch, or the worst element
/// (largest excess over its tolerance): its multi-dimensional index, the flat index, both values,
/// the difference, and how many elements are out of tolerance. Use as
/// `EXPECT_TRUE(all_close(a, e, 1e-4, 1e-6))`.
::testing::AssertionResult all_close(const torch::Tensor& actual, const torch::Tensor& expected,
                                     double rtol, double atol);

/// all_close for a sample of the reference: `expected[k]` is the element at flat index
/// `flat_indices[k]` of `actual` (row-major). Indices in the message are those of `actual`. Fails
/// (instead of throwing) for an index outside `actual` or sizes that do not match.
::testing::AssertionResult all_close_at(const torch::Tensor& actual,
                                        const std::vector<int64_t>& flat_indices,
                                        const std::vector<double>& expected, double rtol,
                                        double atol);

}  // namespace xfer::testing

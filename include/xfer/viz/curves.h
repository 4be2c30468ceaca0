#pragma once
// Training curves: loss and accuracy per epoch, for training and validation, best epoch marked.

#include "xfer/run/files.h"

#include <string>
#include <vector>

namespace xfer::viz {

/// A PNG (1200 × 480) of two plots side by side, loss and accuracy (in percent) against the
/// epoch, each with a training and a validation line, labelled axes and a legend, and the best
/// epoch (run::best_epoch of `rows`) marked by a dashed line and named. A single epoch is drawn
/// as points. Non-finite values are left out. Throws InvalidArgument for no rows.
std::string draw_curves(const std::vector<run::EpochMetrics>& rows);

/// A PNG (1000 × 560) of a learning-rate sweep: the smoothed loss against the rate on a
/// logarithmic axis, and the suggested rate `lrs[valley]` marked by a dashed line and named in
/// the title. The loss axis stops at 4 × the lowest loss (the sweep's divergence limit); points
/// above it or not finite are left out. Throws InvalidArgument for no points, lrs and losses of
/// different lengths, a rate that is not > 0 and finite, or `valley` outside them.
std::string draw_lr_sweep(const std::vector<double>& lrs, const std::vector<double>& losses,
                          size_t valley);

}  // namespace xfer::viz

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

}  // namespace xfer::viz

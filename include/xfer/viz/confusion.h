#pragma once
// The confusion matrix as a picture: true classes down, predictions across, counts in the cells,
// each row coloured by the fraction of its class (viridis).

#include "xfer/eval/metrics.h"

#include <string>
#include <vector>

namespace xfer::viz {

/// A PNG of `confusion` with `classes[k]` naming row and column k: each cell coloured by its count
/// divided by its row's sum (viridis, with a colour bar) and showing the count when the cell is
/// large enough (up to about 30 classes), class names on both axes (long ones shortened with an
/// ellipsis), per-row recall on the right and the overall accuracy in the title. Cells are
/// 64 pixels for up to 12 classes, smaller for more (at least 6). Throws InvalidArgument when
/// `classes` does not have num_classes names.
std::string draw_confusion(const eval::Confusion& confusion,
                           const std::vector<std::string>& classes);

}  // namespace xfer::viz

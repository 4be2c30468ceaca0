#pragma once
// The summary of one pass over a split, without LibTorch: what eval::Evaluation measures and the
// run directory's results.json keeps (xfer/run/files.h).

#include <cstdint>

namespace xfer::eval {

/// Loss and accuracies of one pass over a split.
struct Measures {
  /// Mean cross-entropy (no label smoothing) over the samples.
  double loss = 0;
  /// Fraction whose arg-max is the label.
  double top1 = 0;
  /// Fraction whose label is among the 5 highest logits (all of them when there are fewer).
  double top5 = 0;
  /// Samples seen.
  int64_t count = 0;
};

}  // namespace xfer::eval

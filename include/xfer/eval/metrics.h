#pragma once
// How well a classifier does on a split: loss, top-1, top-5, the confusion matrix and per-class
// precision and recall, accumulated batch by batch.

#include "xfer/eval/measures.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace xfer::eval {

/// Counts of (true class, predicted class) pairs.
class Confusion {
 public:
  /// An all-zero matrix of `num_classes` × `num_classes`. Throws InvalidArgument when < 1.
  explicit Confusion(int64_t num_classes);
  /// Counts one sample. Throws InvalidArgument for a class outside [0, num_classes).
  void add(int64_t label, int64_t predicted);
  /// Number of classes.
  int64_t num_classes() const { return n_; }
  /// Samples of class `label` predicted as `predicted`.
  int64_t count(int64_t label, int64_t predicted) const { return counts_[label * n_ + predicted]; }
  /// Samples counted.
  int64_t total() const { return total_; }
  /// Samples of class `label` (a row's sum).
  int64_t support(int64_t label) const;
  /// Fraction of samples on the diagonal; 0 when none were counted.
  double accuracy() const;
  /// Of the samples predicted as `c`, the fraction that are `c`; 0 when none were.
  double precision(int64_t c) const;
  /// Of the samples of class `c`, the fraction predicted as `c`; 0 when there are none.
  double recall(int64_t c) const;
  /// The matrix, [num_classes, num_classes] int64, rows true classes, columns predictions.
  at::Tensor matrix() const;

 private:
  int64_t n_;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;
};

/// The measures of one pass over a split, with its confusion matrix.
struct Evaluation : Measures {
  /// Confusion matrix of arg-max predictions.
  Confusion confusion{1};
};

/// Accumulates an Evaluation batch by batch.
class Evaluator {
 public:
  /// For logits of `num_classes` classes. Throws InvalidArgument when < 1.
  explicit Evaluator(int64_t num_classes);
  /// Adds a batch: logits [N, num_classes] float, labels [N] int64 in [0, num_classes).
  /// Throws InvalidArgument when the shapes or labels do not fit.
  void add(const at::Tensor& logits, const at::Tensor& labels);
  /// The measures so far.
  Evaluation result() const;

 private:
  int64_t num_classes_;
  double loss_sum_ = 0;
  int64_t top1_ = 0;
  int64_t top5_ = 0;
  Confusion confusion_;
};

}  // namespace xfer::eval

#pragma once
// Data-parallel gradients: the mean over ranks of every trainable parameter's gradient, summed in
// buckets that start while backward is still running (as PyTorch's DistributedDataParallel does).

#include "xfer/dist/group.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace xfer::dist {

/// Averages the gradients of `parameters` across a Group. Each parameter gets a hook that copies
/// its gradient into a flat bucket as autograd produces it; a full bucket is summed across ranks
/// in the background, in bucket order (the same on every rank). Usage per step:
/// zero_grad, backward, average(), optimizer step.
class GradientAverager {
 public:
  /// Buckets of about `bucket_bytes` over `parameters` (those that require gradients), last
  /// parameter first, as backward produces them. Registers hooks on the parameters; the
  /// destructor removes them.
  GradientAverager(Group& group, std::vector<at::Tensor> parameters,
                   int64_t bucket_bytes = 25 << 20);
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  /// After backward: sums the buckets not yet started (a parameter that got no gradient this
  /// step counts as zeros), waits for all of them and sets every parameter's gradient to the
  /// mean over ranks. Throws DistributedError when a peer failed.
  void average();
  /// Gradient accumulation (DistributedDataParallel's no_sync): while held, backward passes only
  /// accumulate gradients locally and nothing is sent; the first backward after hold(false) sends
  /// each parameter's gradients accumulated since zero_grad plus its own, and average() gives
  /// their mean over ranks.
  void hold(bool held);
  /// Buckets in use.
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    at::Tensor flat;                // [sum of numel], the parameters' dtype
    std::vector<size_t> members;    // indices into parameters_
    int64_t ready = 0;              // members whose gradient arrived this step
    std::optional<Pending> pending;  // its sum, once started
  };
  void arrived(size_t index, const at::Tensor& grad);
  void start_ready();

  Group& group_;
  std::vector<at::Tensor> parameters_;
  std::vector<size_t> bucket_of_;   // parameter -> bucket
  std::vector<int64_t> offset_of_;  // parameter -> offset in its bucket's flat tensor
  std::vector<bool> arrived_;       // parameter -> gradient seen this step
  std::vector<unsigned> hooks_;     // parameter -> hook index
  std::vector<Bucket> buckets_;
  size_t next_to_start_ = 0;
  bool held_ = false;     // hold(true): backward only accumulates
  bool carried_ = false;  // a held backward since the last average(): .grad holds its sum
};

}  // namespace xfer::dist

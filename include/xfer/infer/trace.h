#pragma once
// A classifier's forward pass recorded by LibTorch's tracer, with every weight a constant: what
// the fused inference path folds and what every export format is written from.

#include "xfer/models/classifier.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

namespace torch::jit {
struct Graph;
}  // namespace torch::jit

namespace xfer::infer {

/// While alive: `model` in eval mode with no parameter requiring grad, as the tracer needs to
/// record weights as constants; afterwards every module's training flag (a fine-tune keeps frozen
/// batch norms in eval inside a training model) and every requires_grad as before.
class TraceGuard {
 public:
  /// Freezes `model` (not owned) until destruction.
  explicit TraceGuard(models::ClassifierImpl& model);
  ~TraceGuard();
  TraceGuard(const TraceGuard&) = delete;
  TraceGuard& operator=(const TraceGuard&) = delete;

 private:
  models::ClassifierImpl& model_;
  bool training_;                  // the model's own flag
  std::vector<bool> descendants_;  // of modules(false), in pre-order
  std::vector<bool> requires_grad_;
};

/// What a traced pass computes from the images: its outputs, in order.
using TracedPass = std::function<std::vector<at::Tensor>(const at::Tensor& images)>;

/// The graph of `pass` on `images` [N, 3, H, W] (its one input; `pass`'s results its outputs),
/// traced under a TraceGuard of `model` and without gradients, dead code removed. Sizes are
/// recorded as constants: the graph is valid for this shape.
std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, const at::Tensor& images,
                                         const TracedPass& pass);

/// The graph of `model`'s features() on `images` [N, 3, H, W] (its one input; its one output the
/// features [N, feature_dim]), traced in eval mode without gradients, dead code removed. Sizes
/// are recorded as constants: the graph is valid for this shape.
std::shared_ptr<torch::jit::Graph> trace_features(models::ClassifierImpl& model,
                                                  const at::Tensor& images);

}  // namespace xfer::infer

#pragma once
// A frozen backbone compiled for inference: the model's features() pass recorded by LibTorch's
// tracer for each input shape, batch norm folded into the convolution before it (and constant
// additions and scalings after a convolution into its bias and weights, as torch.jit.freeze
// folds them), and, in bf16, every weight converted once so that the whole pass runs in bf16
// instead of autocast converting the weights at every call (layer norms and SiLUs excepted: they
// run in fp32, where LibTorch 1.13's kernels are faster even with the conversions). On the CPU
// the Linear layers, and on channels_last images the convolutions, run on oneDNN with the
// residual additions and activations after them fused in (docs/numerics.md, "The fused
// inference path").

#include "xfer/core/runtime.h"
#include "xfer/models/classifier.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace torch::jit {
struct Graph;
struct GraphFunction;
}  // namespace torch::jit

namespace xfer::infer {

/// How a FrozenBackbone computes features.
struct FrozenOptions {
  /// Precision of the pass. bf16: weights folded in fp32, then converted to bf16 once; images
  /// converted on entry; the features returned in float32.
  Precision precision = Precision::kFloat32;
  /// false: the model's own eager features() under a PrecisionScope, the path before this one
  /// (`--no-fuse`, to compare).
  bool fuse = true;
  /// Told, once, why the fused path fell back to eager (the text of fallback()).
  std::function<void(const std::string&)> on_fallback;
};

/// The graph FrozenBackbone runs for `images` [N, 3, H, W]: `model`'s features() traced on them,
/// batch norm and constant arithmetic folded into the convolutions, dead code removed; on
/// channels_last CPU images each convolution, with the addition and the activation after it,
/// one xfer::conv2d_post node (oneDNN's convolution with post-ops, weights prepacked), and on any
/// CPU images each Linear layer with its activation one xfer::linear_post node; in bf16
/// every floating-point constant converted but the layer norms' weights, each layer norm and SiLU
/// running in fp32 between conversions of its input and output (the graph then takes bf16 images
/// and returns bf16 features). Autocast is off while tracing. Throws what the tracer throws.
std::shared_ptr<torch::jit::Graph> fold_for_inference(models::ClassifierImpl& model,
                                                      const at::Tensor& images,
                                                      Precision precision);

/// The pooled features of a model whose weights stay as they are while it is in use: what
/// feature extraction, evaluation, predict, classify and `xfer forward` run. Each input shape
/// (batch included: the tracer records sizes as constants) is traced and folded once, on its first
/// batch, from the weights as they are then; up to four shapes are kept. A model the tracer or the
/// folded graph cannot run falls back to eager for good, and fallback() says why.
class FrozenBackbone {
 public:
  /// Features of `model` (not owned; it must outlive this object) computed as `options` says.
  FrozenBackbone(models::ClassifierImpl& model, FrozenOptions options);
  ~FrozenBackbone();
  FrozenBackbone(const FrozenBackbone&) = delete;
  FrozenBackbone& operator=(const FrozenBackbone&) = delete;

  /// Features [N, feature_dim] float32 of images [N, 3, H, W] float32 on the model's device, in
  /// the model's layout. Runs under NoGradGuard; leaves the model's training flag and its
  /// parameters' requires_grad as they were. Safe to call from several threads.
  at::Tensor features(const at::Tensor& images);

  /// Logits [N, num_classes] float32 of the same images: the model's classify() on features(),
  /// or, for a model whose head does not classify its features (classifies_features()), its
  /// eager forward() in the same precision. Same threading and guards as features().
  at::Tensor logits(const at::Tensor& images);

  /// Empty while the compiled path serves (or was turned off by FrozenOptions::fuse); otherwise
  /// why it fell back to eager, e.g. "fused path: tracing mobilenet failed: ...; eager from now".
  std::string fallback() const;

 private:
  at::Tensor eager(const at::Tensor& images);
  // The graph for `images`' shape, traced and folded on first sight.
  std::shared_ptr<torch::jit::GraphFunction> compiled(const at::Tensor& images);
  // Records `reason` (the first one only), drops the graphs and tells on_fallback.
  void fall_back(std::string reason);

  models::ClassifierImpl& model_;
  FrozenOptions options_;
  mutable std::mutex mutex_;
  std::map<std::vector<int64_t>, std::shared_ptr<torch::jit::GraphFunction>> compiled_;
  std::vector<std::vector<int64_t>> order_;  // shapes in compiled_, oldest first
  std::string fallback_;
};

}  // namespace xfer::infer

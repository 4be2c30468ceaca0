#pragma once
// Convolutions and Linear layers with what follows them fused into oneDNN's post-ops: the fused
// inference path's last passes over a frozen graph of CPU tensors. LibTorch 1.13 runs a
// convolution, then the residual addition, then the activation, each a pass over the whole
// tensor; oneDNN applies the addition and the activation to each output block while it is still
// in cache, and the weights are reordered once into the layout its kernel reads instead of at
// every call.

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>

namespace torch::jit {
struct Graph;
}  // namespace torch::jit

namespace xfer::infer::detail {

/// Replaces each aten::conv2d of `graph` whose input is a 4-d CPU tensor, together with the
/// addition of a tensor of its output's shape that may follow it and the activation that may
/// follow either (relu, hardtanh, hardswish, silu, sigmoid, gelu), by one xfer::conv2d_post node:
/// a oneDNN convolution on channels_last (nhwc) tensors of `dtype` (float or bfloat16: the dtype
/// the graph will run in) with the addition and the activation as its post-ops. A convolution
/// oneDNN has no optimised kernel for at these sizes and this dtype stays as it was. `graph` must
/// carry the tracer's complete tensor types. Returns how many convolutions were replaced.
int64_t fuse_convolution_post_ops(const std::shared_ptr<torch::jit::Graph>& graph,
                                  c10::ScalarType dtype);

/// Replaces each Linear layer of `graph` with constant weights (aten::linear, aten::addmm of a
/// transposed constant, or aten::matmul by one and the addition of a constant bias after it),
/// with the activation that may follow it, by one xfer::linear_post node: a oneDNN matmul of the
/// input's rows in `dtype` with the weights reordered once and the activation as a post-op.
/// A layer oneDNN has no optimised kernel for stays as it was. Returns how many were replaced.
int64_t fuse_linear_post_ops(const std::shared_ptr<torch::jit::Graph>& graph,
                             c10::ScalarType dtype);

}  // namespace xfer::infer::detail

#include "xfer/infer/frozen.h"

#include "xfer/infer/trace.h"

#include "detail/post_ops.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/passes/graph_rewrite_helper.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/utils.h>

#include <exception>
#include <unordered_set>
#include <vector>

namespace xfer::infer {
namespace {

constexpr size_t kShapesKept = 4;

// Applies `change` to the value of every tensor constant of `graph` but those in `kept`.
template <typename Change>
void change_tensor_constants(torch::jit::Graph& graph, Change change,
                             const std::unordered_set<const torch::jit::Node*>& kept = {}) {
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->kind() != c10::prim::Constant || !node->output()->type()->cast<c10::TensorType>() ||
        kept.count(node) != 0) {
      continue;
    }
    node->t_(c10::attr::value, change(node->t(c10::attr::value)));
    node->output()->inferTypeFrom(node->t(c10::attr::value));
  }
}

// Runs each layer norm and SiLU of a bf16 `graph` in fp32, its input brought to fp32 and its
// output taken back to bf16, and returns the constants that must stay fp32 (fresh copies of a
// layer norm's weight and bias: a constant may be shared with an operator that runs in bf16).
// LibTorch 1.13's CPU kernels for these two are slower on bf16 than on fp32 with both conversions
// (one thread, [8, 56, 56, 96] and [8, 96, 56, 56]: layer_norm 37 ms against 2.9, silu 3.4 against
// 1.7; docs/BENCHMARKS.md). Eager autocast runs xfer's layer norms in fp32 too (LayerNormImpl
// brings its input to its weights' dtype).
std::unordered_set<const torch::jit::Node*> slow_bf16_operators_in_fp32(torch::jit::Graph& graph) {
  std::vector<torch::jit::Node*> chosen;
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == c10::aten::layer_norm || node->kind() == c10::aten::silu) {
      chosen.push_back(node);
    }
  }
  std::unordered_set<const torch::jit::Node*> fp32_constants;
  for (torch::jit::Node* node : chosen) {
    torch::jit::WithInsertPoint before(node);
    node->replaceInput(0, graph.insert(c10::aten::to, {node->input(0), at::kFloat}));
    if (node->kind() == c10::aten::layer_norm) {
      for (const size_t affine : {2, 3}) {  // weight, bias
        const auto value = torch::jit::toIValue(node->input(affine));
        if (!value || !value->isTensor()) continue;
        torch::jit::Value* copy = graph.insertConstant(value->toTensor().to(at::kFloat));
        fp32_constants.insert(copy->node());
        node->replaceInput(affine, copy);
      }
    }
    torch::jit::WithInsertPoint after(node->next());
    torch::jit::Value* back = graph.insert(c10::aten::to, {node->output(), at::kBFloat16});
    node->output()->replaceAllUsesAfterNodeWith(back->node(), back);
  }
  return fp32_constants;
}

// Autocast off while the compiled graph runs: its own constants decide its precision.
struct NoAutocast {
  c10::impl::ExcludeDispatchKeyGuard cpu{c10::DispatchKey::AutocastCPU};
  c10::impl::ExcludeDispatchKeyGuard cuda{c10::DispatchKey::AutocastCUDA};
};

// The first line of an exception's message (LibTorch appends a backtrace).
std::string first_line(const std::exception& e) {
  const std::string text = e.what();
  return text.substr(0, text.find('\n'));
}

}  // namespace

std::shared_ptr<torch::jit::Graph> fold_for_inference(models::ClassifierImpl& model,
                                                      const at::Tensor& images,
                                                      Precision precision) {
  NoAutocast no_autocast;
  torch::NoGradGuard no_grad;
  std::shared_ptr<torch::jit::Graph> graph = trace_features(model, images);
  // The tracer's constants are the parameters themselves, which require grad again once the trace
  // is over; the folding passes refuse such constants.
  change_tensor_constants(*graph, [](const at::Tensor& value) { return value.detach(); });
  // The tracer records aten::_convolution; the folding passes look for aten::conv2d.
  torch::jit::graph_rewrite_helper::replaceConvolutionWithAtenConv(graph);
  // Batch norm into the convolution before it, then constant add/sub and mul/div after one.
  torch::jit::OptimizeFrozenGraph(graph, /*optimize_numerics=*/true);
  torch::jit::EliminateDeadCode(graph);
  const auto dtype = precision == Precision::kBFloat16 ? at::kBFloat16 : at::kFloat;
  // oneDNN's nhwc kernels take channels_last tensors as they are; an NCHW pass stays on LibTorch's
  // convolutions (which reorder to oneDNN's blocked layout and back around each one).
  if (images.device().is_cpu() && images.dim() == 4 &&
      images.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
    detail::fuse_convolution_post_ops(graph, dtype);
  }
  if (images.device().is_cpu()) detail::fuse_linear_post_ops(graph, dtype);
  torch::jit::EliminateDeadCode(graph);  // the fused layers' weights: their plans hold them
  if (precision == Precision::kBFloat16) {
    const auto fp32_constants = slow_bf16_operators_in_fp32(*graph);
    torch::jit::EliminateDeadCode(graph);  // the layer norms' weights as they were before
    change_tensor_constants(
        *graph,
        [](const at::Tensor& value) {
          return value.is_floating_point() ? value.to(at::kBFloat16) : value;
        },
        fp32_constants);
  }
  return graph;
}

FrozenBackbone::FrozenBackbone(models::ClassifierImpl& model, FrozenOptions options)
    : model_(model), options_(options) {}

FrozenBackbone::~FrozenBackbone() = default;

std::string FrozenBackbone::fallback() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fallback_;
}

at::Tensor FrozenBackbone::eager(const at::Tensor& images) {
  PrecisionScope precision(options_.precision, images.device());
  return model_.features(images).to(at::kFloat);  // [N, F]
}

void FrozenBackbone::fall_back(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fallback_.empty()) return;
    fallback_ = std::move(reason);
    compiled_.clear();
    order_.clear();
  }
  if (options_.on_fallback) options_.on_fallback(fallback());
}

at::Tensor FrozenBackbone::features(const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  if (!options_.fuse || !fallback().empty()) return eager(images);
  std::shared_ptr<torch::jit::GraphFunction> function;
  try {
    function = compiled(images);
  } catch (const std::exception& e) {
    fall_back("fused path: tracing and folding the backbone failed (" + first_line(e) +
              "); eager from now on");
    return eager(images);
  }
  NoAutocast no_autocast;
  const bool bf16 = options_.precision == Precision::kBFloat16;
  torch::jit::Stack stack{bf16 ? images.to(at::kBFloat16) : images};
  try {
    function->run(stack);
  } catch (const std::exception& e) {
    fall_back("fused path: the folded backbone failed to run (" + first_line(e) +
              "); eager from now on");
    return eager(images);
  }
  return stack.at(0).toTensor().to(at::kFloat);  // [N, F]
}

at::Tensor FrozenBackbone::logits(const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  if (model_.classifies_features()) return model_.classify(features(images)).to(at::kFloat);
  PrecisionScope precision(options_.precision, images.device());
  return model_.forward(images).to(at::kFloat);  // [N, C]
}

std::shared_ptr<torch::jit::GraphFunction> FrozenBackbone::compiled(const at::Tensor& images) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<int64_t> shape = images.sizes().vec();
  const auto found = compiled_.find(shape);
  if (found != compiled_.end()) return found->second;
  auto function = std::make_shared<torch::jit::GraphFunction>(
      "xfer_frozen_features", fold_for_inference(model_, images, options_.precision), nullptr,
      torch::jit::ExecutorExecutionMode::SIMPLE);
  function->_set_ignore_amp(true);
  if (order_.size() == kShapesKept) {
    compiled_.erase(order_.front());
    order_.erase(order_.begin());
  }
  compiled_[shape] = function;
  order_.push_back(shape);
  return function;
}

}  // namespace xfer::infer

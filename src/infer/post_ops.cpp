#include "detail/post_ops.h"

#include <ATen/ATen.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/custom_class.h>
#include <torch/library.h>

#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace xfer::infer::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// One elementwise step applied to a convolution's or matmul's output: oneDNN's
// `algorithm(x; alpha, beta)`.
struct Eltwise {
  dnnl::algorithm algorithm;
  float alpha = 0.f;
  float beta = 0.f;
};

// A convolution's fixed arguments, as aten::conv2d takes them.
struct Convolution {
  at::Tensor weight;  // [O, I / groups, KH, KW] float32
  at::Tensor bias;    // [O] float32, or undefined
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::data_type data_type_of(c10::ScalarType dtype) {
  return dtype == at::kBFloat16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

// A layer's weights in the layout each of its primitives reads. The first packing reads the
// plain float32 tensor and lets it go (after folding, the graph held the only other reference),
// so that a fused graph keeps one copy of its weights; a later primitive (another input shape)
// reorders from that first packing. Not thread-safe: the plans call it under their mutex.
class PackedWeights {
 public:
  // `plain` float32 whose memory is `dims` in the order `tag` says.
  PackedWeights(at::Tensor plain, dnnl::memory::dims dims, dnnl::memory::format_tag tag)
      : plain_(std::move(plain)), dims_(std::move(dims)), tag_(tag) {}

  // The weights in `wanted`'s layout and data type (the data type of the first packing).
  dnnl::memory pack(const dnnl::memory::desc& wanted, c10::ScalarType dtype) {
    dnnl::engine& engine = cpu_engine();
    dnnl::memory packed(wanted, engine);
    dnnl::stream stream(engine);
    if (plain_.defined()) {
      const at::Tensor source = plain_.to(dtype).contiguous();
      dnnl::memory plain(dnnl::memory::desc(dims_, data_type_of(dtype), tag_), engine,
                         source.data_ptr());
      dnnl::reorder(plain, packed).execute(stream, plain, packed);
      plain_ = at::Tensor();
      first_ = packed;
    } else {
      TORCH_CHECK(first_->get_desc().data_type() == data_type_of(dtype),
                  "xfer: the weights were packed in another data type than ", dtype);
      dnnl::reorder(*first_, packed).execute(stream, *first_, packed);
    }
    stream.wait();
    return packed;
  }

 private:
  at::Tensor plain_;
  dnnl::memory::dims dims_;
  dnnl::memory::format_tag tag_;
  std::optional<dnnl::memory> first_;
};

// A plan's primitives by input shape and dtype, each created on first sight under a lock.
// `Primitive` holds the oneDNN primitive, its packed weights and what running it needs.
template <typename Key, typename Primitive>
class PrimitiveCache {
 public:
  // The primitive for `key`, `create()`d if new: null where oneDNN has only its reference
  // kernel; throws dnnl::error where it has none.
  template <typename Create>
  std::shared_ptr<const Primitive> get(const Key& key, Create create) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = primitives_.find(key);
    if (found != primitives_.end()) return found->second;
    auto created = create();
    primitives_.emplace(key, created);
    return created;
  }

  // Whether oneDNN has an optimised kernel for `key`; creates it if so.
  template <typename Create>
  bool prepare(const Key& key, Create create) {
    try {
      return get(key, create) != nullptr;
    } catch (const dnnl::error&) {
      return false;
    }
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<const Primitive>> primitives_;
};

// oneDNN's attributes for the residual's addition (a sum into dst) if `adds_residual`, then
// `eltwise` in order.
dnnl::primitive_attr post_op_attributes(bool adds_residual, const std::vector<Eltwise>& eltwise) {
  dnnl::post_ops post_ops;
  if (adds_residual) post_ops.append_sum(1.f);
  for (const Eltwise& step : eltwise) {
    post_ops.append_eltwise(1.f, step.algorithm, step.alpha, step.beta);
  }
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(post_ops);
  return attributes;
}

// Whether oneDNN chose only its reference kernel: then LibTorch's own is faster.
template <typename PrimitiveDesc>
bool is_reference(const PrimitiveDesc& chosen) {
  return std::string(chosen.impl_info_str()).rfind("ref", 0) == 0;
}

// Runs `prepared`'s primitive from x's memory into y's with its packed weights and bias.
template <typename Primitive>
void execute(const Primitive& prepared, const at::Tensor& x, const at::Tensor& y) {
  dnnl::engine& engine = cpu_engine();
  dnnl::stream stream(engine);
  std::unordered_map<int, dnnl::memory> arguments{
      {DNNL_ARG_SRC, dnnl::memory(prepared.source, engine, x.data_ptr())},
      {DNNL_ARG_WEIGHTS, prepared.weights},
      {DNNL_ARG_DST, dnnl::memory(prepared.destination, engine, y.data_ptr())}};
  if (prepared.bias) arguments.emplace(DNNL_ARG_BIAS, *prepared.bias);
  prepared.forward.execute(stream, arguments);
  stream.wait();
}

// A convolution and its post-ops (the residual's addition, then the elementwise steps), with the
// oneDNN primitive of each input shape and its weights reordered once into that primitive's
// layout. The graph holds it as a constant of xfer::conv2d_post.
class ConvolutionPlan : public torch::CustomClassHolder {
 public:
  ConvolutionPlan(Convolution convolution, bool adds_residual, std::vector<Eltwise> eltwise,
                  bool overwrites_residual)
      : weight_sizes_(weight_sizes_of(convolution.weight, convolution.groups)),
        weights_(std::move(convolution.weight), weight_sizes_,
                 convolution.groups == 1 ? dnnl::memory::format_tag::oihw
                                         : dnnl::memory::format_tag::goihw),
        convolution_(std::move(convolution)),
        adds_residual_(adds_residual),
        eltwise_(std::move(eltwise)),
        overwrites_residual_(overwrites_residual) {}

  // Whether oneDNN has an optimised (not reference) kernel for input [N, C, H, W] of `dtype`;
  // prepares it if so.
  bool prepare(const std::vector<int64_t>& input_sizes, c10::ScalarType dtype) {
    return primitives_.prepare({input_sizes, dtype}, [&] { return create(input_sizes, dtype); });
  }

  // conv(input) (+ residual) then the elementwise steps: [N, O, OH, OW] channels_last in input's
  // dtype. Writes into `residual` when the graph said no one reads it afterwards.
  at::Tensor run(const at::Tensor& input, const c10::optional<at::Tensor>& residual) {
    const at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
    const std::vector<int64_t> sizes = x.sizes().vec();
    const auto prepared = primitives_.get({sizes, x.scalar_type()},
                                          [&] { return create(sizes, x.scalar_type()); });
    TORCH_CHECK(prepared, "xfer::conv2d_post: oneDNN has no kernel for input ", x.sizes(), " ",
                x.scalar_type());
    const auto channels_last = x.options().memory_format(at::MemoryFormat::ChannelsLast);
    at::Tensor y;
    if (residual && overwrites_residual_ && residual->scalar_type() == x.scalar_type() &&
        residual->sizes() == at::IntArrayRef(prepared->output_sizes) &&
        residual->is_contiguous(at::MemoryFormat::ChannelsLast)) {
      y = *residual;
    } else {
      y = at::empty(prepared->output_sizes, channels_last);
      if (residual) y.copy_(*residual);  // oneDNN's sum post-op adds to what dst holds
    }
    execute(*prepared, x, y);
    return y;
  }

 private:
  struct Primitive {
    dnnl::convolution_forward forward;
    dnnl::memory::desc source, destination;  // nhwc
    dnnl::memory weights;                    // in the primitive's layout
    std::optional<dnnl::memory> bias;        // float32, over bias_
    std::vector<int64_t> output_sizes;       // [N, O, OH, OW]
  };

  // [O, I / groups, KH, KW], or [groups, O / groups, I / groups, KH, KW] for oneDNN.
  static dnnl::memory::dims weight_sizes_of(const at::Tensor& w, int64_t groups) {
    if (groups == 1) return {w.size(0), w.size(1), w.size(2), w.size(3)};
    return {groups, w.size(0) / groups, w.size(1), w.size(2), w.size(3)};
  }

  // The primitive for input [N, C, H, W] of `dtype`, its weights packed; null where oneDNN has
  // only its reference kernel. Throws dnnl::error where it has none.
  std::shared_ptr<const Primitive> create(const std::vector<int64_t>& input_sizes,
                                          c10::ScalarType dtype) {
    using dims = dnnl::memory::dims;
    using tag = dnnl::memory::format_tag;
    TORCH_CHECK(input_sizes.size() == 4, "xfer::conv2d_post: expected a 4-d input, got ",
                input_sizes);
    const size_t kernel = weight_sizes_.size() - 2;  // the index of KH
    const int64_t out_channels =
        convolution_.groups == 1 ? weight_sizes_[0] : weight_sizes_[0] * weight_sizes_[1];
    dims output{input_sizes[0], out_channels, 0, 0};
    dims padding_r(2);
    for (size_t i = 0; i < 2; ++i) {
      const int64_t extent = (weight_sizes_[kernel + i] - 1) * convolution_.dilation[i] + 1;
      output[2 + i] = (input_sizes[2 + i] + 2 * convolution_.padding[i] - extent) /
                          convolution_.stride[i] + 1;
      // What oneDNN needs on the far side for this output size (less than `padding` where the
      // stride drops the last rows).
      padding_r[i] = (output[2 + i] - 1) * convolution_.stride[i] + extent - input_sizes[2 + i] -
                     convolution_.padding[i];
    }
    const auto type = data_type_of(dtype);
    const dnnl::memory::desc source(dims(input_sizes.begin(), input_sizes.end()), type, tag::nhwc);
    const dnnl::memory::desc destination(output, type, tag::nhwc);
    const dnnl::memory::desc any_weights(weight_sizes_, type, tag::any);
    const dnnl::memory::desc bias_desc =
        convolution_.bias.defined()
            ? dnnl::memory::desc({out_channels}, dnnl::memory::data_type::f32, tag::a)
            : dnnl::memory::desc();
    const dims dilation{convolution_.dilation[0] - 1, convolution_.dilation[1] - 1};
    const dnnl::convolution_forward::desc description(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source,
        any_weights, bias_desc, destination, dims(convolution_.stride), dilation,
        dims(convolution_.padding), padding_r);
    dnnl::engine& engine = cpu_engine();
    const dnnl::convolution_forward::primitive_desc chosen(
        description, post_op_attributes(adds_residual_, eltwise_), engine);
    if (is_reference(chosen)) return nullptr;

    auto prepared = std::make_shared<Primitive>();
    prepared->forward = dnnl::convolution_forward(chosen);
    prepared->source = source;
    prepared->destination = destination;
    prepared->output_sizes = output;
    prepared->weights = weights_.pack(chosen.weights_desc(), dtype);
    if (convolution_.bias.defined()) {
      prepared->bias.emplace(bias_desc, engine, convolution_.bias.data_ptr());
    }
    return prepared;
  }

  const dnnl::memory::dims weight_sizes_;
  PackedWeights weights_;
  const Convolution convolution_;  // its weight moved into weights_
  const bool adds_residual_;
  const std::vector<Eltwise> eltwise_;
  const bool overwrites_residual_;
  // By input [N, C, H, W] and dtype.
  PrimitiveCache<std::pair<std::vector<int64_t>, c10::ScalarType>, Primitive> primitives_;
};

at::Tensor run_plan(const at::Tensor& input, const c10::intrusive_ptr<ConvolutionPlan>& plan,
                    const c10::optional<at::Tensor>& residual) {
  return plan->run(input, residual);
}

// A Linear layer (weight [O, I], bias) and the elementwise steps after it, as a oneDNN matmul of
// the input's rows with the weights reordered once into the primitive's layout. LibTorch 1.13
// sends an fp32 Linear to the BLAS it was built with (OpenBLAS here), which reorders the weights
// at every call, and runs GELU as a pass of its own.
class LinearPlan : public torch::CustomClassHolder {
 public:
  LinearPlan(at::Tensor weight, at::Tensor bias, std::vector<Eltwise> eltwise)
      : out_features_(weight.size(0)),
        in_features_(weight.size(1)),
        // weight [O, I] row-major is [I, O] column-major ("ba").
        weights_(std::move(weight), {in_features_, out_features_}, dnnl::memory::format_tag::ba),
        bias_(std::move(bias)),
        eltwise_(std::move(eltwise)) {}

  // Whether oneDNN has an optimised kernel for `rows` rows of `dtype`; prepares it if so.
  bool prepare(int64_t rows, c10::ScalarType dtype) {
    return primitives_.prepare({rows, dtype}, [&] { return create(rows, dtype); });
  }

  // input [..., I] -> [..., O] in input's dtype.
  at::Tensor run(const at::Tensor& input) {
    TORCH_CHECK(input.size(-1) == in_features_, "xfer::linear_post: expected ", in_features_,
                " input features, got ", input.sizes());
    const at::Tensor x = input.contiguous();
    const int64_t rows = x.numel() / in_features_;
    const auto prepared =
        primitives_.get({rows, x.scalar_type()}, [&] { return create(rows, x.scalar_type()); });
    TORCH_CHECK(prepared, "xfer::linear_post: oneDNN has no kernel for ", rows, " rows of ",
                x.scalar_type());
    std::vector<int64_t> output_sizes = x.sizes().vec();
    output_sizes.back() = out_features_;
    at::Tensor y = at::empty(output_sizes, x.options());
    execute(*prepared, x, y);
    return y;
  }

 private:
  struct Primitive {
    dnnl::matmul forward;
    dnnl::memory::desc source, destination;  // [rows, I] and [rows, O], row-major
    dnnl::memory weights;                    // [I, O] in the primitive's layout
    std::optional<dnnl::memory> bias;        // [1, O] float32, over bias_
  };

  // The primitive for `rows` rows of `dtype`, as ConvolutionPlan::create.
  std::shared_ptr<const Primitive> create(int64_t rows, c10::ScalarType dtype) {
    using tag = dnnl::memory::format_tag;
    const int64_t out_features = out_features_, in_features = in_features_;
    const auto type = data_type_of(dtype);
    const dnnl::memory::desc source({rows, in_features}, type, tag::ab);
    const dnnl::memory::desc destination({rows, out_features}, type, tag::ab);
    const dnnl::memory::desc any_weights({in_features, out_features}, type, tag::any);
    const dnnl::memory::desc bias_desc =
        bias_.defined() ? dnnl::memory::desc({1, out_features}, dnnl::memory::data_type::f32,
                                             tag::ab)
                        : dnnl::memory::desc();
    const dnnl::matmul::desc description(source, any_weights, bias_desc, destination);
    dnnl::engine& engine = cpu_engine();
    const dnnl::matmul::primitive_desc chosen(description, post_op_attributes(false, eltwise_),
                                              engine);
    if (is_reference(chosen)) return nullptr;

    auto prepared = std::make_shared<Primitive>();
    prepared->forward = dnnl::matmul(chosen);
    prepared->source = source;
    prepared->destination = destination;
    prepared->weights = weights_.pack(chosen.weights_desc(), dtype);
    if (bias_.defined()) prepared->bias.emplace(bias_desc, engine, bias_.data_ptr());
    return prepared;
  }

  const int64_t out_features_, in_features_;
  PackedWeights weights_;  // of [O, I] float32
  const at::Tensor bias_;  // [O] float32 contiguous, or undefined
  const std::vector<Eltwise> eltwise_;
  PrimitiveCache<std::pair<int64_t, c10::ScalarType>, Primitive> primitives_;  // by rows, dtype
};

at::Tensor run_linear_plan(const at::Tensor& input, const c10::intrusive_ptr<LinearPlan>& plan) {
  return plan->run(input);
}

TORCH_LIBRARY(xfer, library) {
  library.class_<ConvolutionPlan>("ConvolutionPlan");
  library.def(
      "conv2d_post(Tensor input, __torch__.torch.classes.xfer.ConvolutionPlan plan, "
      "Tensor? residual) -> Tensor",
      run_plan);
  library.class_<LinearPlan>("LinearPlan");
  library.def("linear_post(Tensor input, __torch__.torch.classes.xfer.LinearPlan plan) -> Tensor",
              run_linear_plan);
}

// The only user of `value`, if it has exactly one.
Node* sole_user(const Value* value) {
  return value->uses().size() == 1 ? value->uses()[0].user : nullptr;
}

std::optional<double> constant_scalar(const Value* value) {
  const auto constant = torch::jit::toIValue(value);
  if (!constant || !(constant->isDouble() || constant->isInt())) return std::nullopt;
  return constant->toScalar().to<double>();
}

// What `node` computes from its first input as oneDNN elementwise steps; empty if it is none of
// the activations the zoo uses after a convolution.
std::vector<Eltwise> eltwise_of(const Node* node) {
  const std::string kind = node->kind().toQualString();
  const auto is = [&](const char* name) {
    return kind == std::string("aten::") + name || kind == std::string("aten::") + name + "_";
  };
  if (is("relu")) return {{dnnl::algorithm::eltwise_relu}};
  if (is("relu6")) return {{dnnl::algorithm::eltwise_clip, 0.f, 6.f}};
  if (is("hardtanh")) {
    const auto low = constant_scalar(node->input(1)), high = constant_scalar(node->input(2));
    if (!low || !high) return {};
    return {{dnnl::algorithm::eltwise_clip, static_cast<float>(*low), static_cast<float>(*high)}};
  }
  if (is("hardswish")) return {{dnnl::algorithm::eltwise_hardswish}};
  // hardsigmoid(x) = clip(x / 6 + 1 / 2, 0, 1).
  if (is("hardsigmoid")) {
    return {{dnnl::algorithm::eltwise_linear, 1.f / 6.f, 0.5f},
            {dnnl::algorithm::eltwise_clip, 0.f, 1.f}};
  }
  if (is("silu")) return {{dnnl::algorithm::eltwise_swish, 1.f}};
  if (is("sigmoid")) return {{dnnl::algorithm::eltwise_logistic}};
  if (is("gelu")) {
    const auto approximate = torch::jit::toIValue(node->input(1));
    if (!approximate || !approximate->isString()) return {};
    if (approximate->toStringRef() == "none") return {{dnnl::algorithm::eltwise_gelu_erf}};
    if (approximate->toStringRef() == "tanh") return {{dnnl::algorithm::eltwise_gelu_tanh}};
  }
  return {};
}

std::optional<std::vector<int64_t>> sizes_of(const Value* value) {
  const auto type = value->type()->cast<c10::TensorType>();
  if (!type) return std::nullopt;
  const auto sizes = type->sizes().concrete_sizes();
  if (!sizes) return std::nullopt;
  return *sizes;
}

// Whether `node` is aten::add or aten::add_ of two tensors with alpha 1.
bool is_addition(const Node* node) {
  const std::string kind = node->kind().toQualString();
  if ((kind != "aten::add" && kind != "aten::add_") || node->inputs().size() != 3) return false;
  const auto alpha = constant_scalar(node->input(2));
  return alpha && *alpha == 1.0;
}

// Whether `node` is `conv_out + residual` (alpha 1) with a residual of conv_out's sizes; the
// residual's input index if so. An in-place addition must write into conv_out, not the residual.
std::optional<size_t> residual_index(const Node* node, const Value* conv_out) {
  if (!is_addition(node)) return {};
  const size_t residual = node->input(0) == conv_out ? 1 : 0;
  if (node->input(1 - residual) != conv_out || node->input(residual) == conv_out) return {};
  if (node->kind() == c10::aten::add_ && residual == 0) return {};
  const auto left = sizes_of(node->input(residual)), right = sizes_of(conv_out);
  if (!left || !right || *left != *right) return {};
  return residual;
}

// Whether the fused node may write its output into `residual`, the input of `addition` (whose
// convolution reads `conv_input`): nothing that may share its memory is read after the addition,
// and it is neither a constant, the graph's input or output, nor the convolution's input.
bool may_overwrite(const torch::jit::AliasDb& aliases, torch::jit::Graph& graph,
                   Value* residual, const Node* addition, Value* conv_input) {
  // A constant would be changed for every later run of the graph.
  if (residual->node()->kind() == c10::prim::Param ||
      residual->node()->kind() == c10::prim::Constant) {
    return false;
  }
  if (aliases.mayContainAlias(residual, graph.inputs()) ||
      aliases.mayContainAlias(residual, graph.outputs()) ||
      aliases.mayAlias(residual, conv_input)) {
    return false;
  }
  for (const Node* later = addition->next(); later != graph.return_node(); later = later->next()) {
    for (const Value* input : later->inputs()) {
      if (aliases.mayAlias(input, residual)) return false;
    }
  }
  return true;
}

// A convolution and what it absorbs; nodes, not values, because earlier rewrites replace values.
struct Candidate {
  Node* convolution = nullptr;
  Node* addition = nullptr;
  size_t residual = 0;  // the addition's input index of the residual
  Node* activation = nullptr;
  std::vector<Eltwise> eltwise;
  bool overwrites_residual = false;
};

std::optional<Convolution> constant_arguments(const Node* conv) {
  const auto weight = torch::jit::toIValue(conv->input(1));
  const auto bias = torch::jit::toIValue(conv->input(2));
  const auto stride = torch::jit::toIValue(conv->input(3));
  const auto padding = torch::jit::toIValue(conv->input(4));
  const auto dilation = torch::jit::toIValue(conv->input(5));
  const auto groups = torch::jit::toIValue(conv->input(6));
  if (!weight || !weight->isTensor() || !bias || !(bias->isTensor() || bias->isNone()) ||
      !stride || !stride->isIntList() || !padding || !padding->isIntList() || !dilation ||
      !dilation->isIntList() || !groups || !groups->isInt()) {
    return std::nullopt;
  }
  Convolution convolution;
  convolution.weight = weight->toTensor();
  if (convolution.weight.dim() != 4 || !convolution.weight.device().is_cpu() ||
      convolution.weight.scalar_type() != at::kFloat) {
    return std::nullopt;
  }
  if (bias->isTensor()) convolution.bias = bias->toTensor().to(at::kFloat).contiguous();
  // One number stands for both sides, as in aten::conv2d.
  const auto pair = [](std::vector<int64_t> values) {
    return values.size() == 1 ? std::vector<int64_t>{values[0], values[0]} : values;
  };
  convolution.stride = pair(stride->toIntVector());
  convolution.padding = pair(padding->toIntVector());
  convolution.dilation = pair(dilation->toIntVector());
  convolution.groups = groups->toInt();
  if (convolution.stride.size() != 2 || convolution.padding.size() != 2 ||
      convolution.dilation.size() != 2) {
    return std::nullopt;
  }
  return convolution;
}

// A Linear layer's constants: weight [O, I] and bias [O] float32, and which input is the rows.
struct Linear {
  at::Tensor weight, bias;
  size_t input = 0;
};

// The [O, I] weight of `value` when it is a constant [I, O] or aten::t of a constant [O, I].
std::optional<at::Tensor> transposed_weight(const Value* value) {
  if (value->node()->kind() == c10::aten::t) {
    const auto weight = torch::jit::toIValue(value->node()->input(0));
    if (weight && weight->isTensor() && weight->toTensor().dim() == 2) return weight->toTensor();
    return std::nullopt;
  }
  const auto transposed = torch::jit::toIValue(value);
  if (transposed && transposed->isTensor() && transposed->toTensor().dim() == 2) {
    return transposed->toTensor().t();
  }
  return std::nullopt;
}

// aten::linear(x, W, b), aten::addmm(b, x, W^T) with beta = alpha = 1, or aten::matmul(x, W^T):
// their constant weights (float32 on the CPU) and bias.
std::optional<Linear> linear_arguments(const Node* layer) {
  Linear linear;
  std::optional<at::Tensor> weight;
  c10::optional<c10::IValue> bias;
  if (layer->kind() == c10::aten::linear && layer->inputs().size() == 3) {
    const auto constant = torch::jit::toIValue(layer->input(1));
    if (constant && constant->isTensor()) weight = constant->toTensor();
    bias = torch::jit::toIValue(layer->input(2));
  } else if (layer->kind() == c10::aten::addmm && layer->inputs().size() == 5) {
    const auto beta = constant_scalar(layer->input(3)), alpha = constant_scalar(layer->input(4));
    if (!beta || *beta != 1.0 || !alpha || *alpha != 1.0) return std::nullopt;
    weight = transposed_weight(layer->input(2));
    bias = torch::jit::toIValue(layer->input(0));
    linear.input = 1;
  } else if (layer->kind() == c10::aten::matmul && layer->inputs().size() == 2) {
    weight = transposed_weight(layer->input(1));
    bias = c10::IValue();
  } else {
    return std::nullopt;
  }
  if (!weight || weight->dim() != 2 || !weight->device().is_cpu() ||
      weight->scalar_type() != at::kFloat || !bias || !(bias->isNone() || bias->isTensor())) {
    return std::nullopt;
  }
  linear.weight = weight->contiguous();
  if (bias->isTensor()) {
    const at::Tensor& b = bias->toTensor();
    if (b.dim() != 1 || b.size(0) != weight->size(0)) return std::nullopt;
    linear.bias = b.to(at::kFloat).contiguous();
  }
  return linear;
}

// The bias [out_features] float32 that `node` adds to `product` (alpha 1, a constant), if it does.
std::optional<at::Tensor> bias_of(const Node* node, const Value* product, int64_t out_features) {
  if (!is_addition(node) || node->input(0) != product) return std::nullopt;
  const auto bias = torch::jit::toIValue(node->input(1));
  if (!bias || !bias->isTensor()) return std::nullopt;
  const at::Tensor& b = bias->toTensor();
  if (b.dim() != 1 || b.size(0) != out_features || !b.is_floating_point()) return std::nullopt;
  return b.to(at::kFloat).contiguous();
}

}  // namespace

int64_t fuse_convolution_post_ops(const std::shared_ptr<torch::jit::Graph>& graph,
                                  c10::ScalarType dtype) {
  std::vector<Candidate> candidates;
  {
    const torch::jit::AliasDb aliases(graph);
    std::unordered_set<const Node*> claimed;
    for (Node* node : graph->nodes()) {
      if (node->kind() != c10::aten::conv2d || node->inputs().size() != 7) continue;
      Candidate candidate;
      candidate.convolution = node;
      Node* last = node;
      Node* user = sole_user(node->output());
      // Where two convolutions are added, the first one takes the addition.
      if (user && claimed.count(user) == 0) {
        if (const auto residual = residual_index(user, node->output())) {
          candidate.addition = user;
          candidate.residual = *residual;
          candidate.overwrites_residual = may_overwrite(aliases, *graph, user->input(*residual),
                                                        user, node->input(0));
          last = user;
          user = sole_user(user->output());
        }
      }
      if (user && user->input(0) == last->output()) {
        candidate.eltwise = eltwise_of(user);
        if (!candidate.eltwise.empty()) candidate.activation = user;
      }
      claimed.insert({candidate.addition, candidate.activation});
      candidates.push_back(candidate);
    }
  }
  int64_t fused = 0;
  for (const Candidate& candidate : candidates) {
    Node* conv = candidate.convolution;
    const auto input_sizes = sizes_of(conv->input(0));
    auto arguments = constant_arguments(conv);
    if (!input_sizes || input_sizes->size() != 4 || !arguments) continue;
    auto plan = c10::make_intrusive<ConvolutionPlan>(std::move(*arguments),
                                                     candidate.addition != nullptr,
                                                     candidate.eltwise,
                                                     candidate.overwrites_residual);
    if (!plan->prepare(*input_sizes, dtype)) continue;
    Node* last = candidate.activation     ? candidate.activation
                 : candidate.addition ? candidate.addition
                                        : conv;
    torch::jit::WithInsertPoint before(last);
    Value* plan_value = graph->insertConstant(c10::IValue(plan));
    std::vector<torch::jit::NamedValue> inputs{conv->input(0), plan_value};
    if (candidate.addition) {
      inputs.emplace_back(candidate.addition->input(candidate.residual));
    } else {
      inputs.emplace_back(c10::IValue());
    }
    Value* output = graph->insert(c10::Symbol::fromQualString("xfer::conv2d_post"), inputs);
    output->setType(last->output()->type());
    last->output()->replaceAllUsesWith(output);
    for (Node* absorbed : {candidate.activation, candidate.addition, conv}) {
      if (absorbed) absorbed->destroy();
    }
    ++fused;
  }
  return fused;
}

int64_t fuse_linear_post_ops(const std::shared_ptr<torch::jit::Graph>& graph,
                             c10::ScalarType dtype) {
  std::vector<Node*> layers;
  for (Node* node : graph->nodes()) {
    if (node->kind() == c10::aten::linear || node->kind() == c10::aten::addmm ||
        node->kind() == c10::aten::matmul) {
      layers.push_back(node);
    }
  }
  int64_t fused = 0;
  for (Node* layer : layers) {
    auto linear = linear_arguments(layer);
    if (!linear) continue;
    const auto input_sizes = sizes_of(layer->input(linear->input));
    if (!input_sizes || input_sizes->size() < 2 ||
        input_sizes->back() != linear->weight.size(1)) {
      continue;
    }
    // The bias of a matmul comes as the addition after it.
    Node* last = layer;
    Node* bias_addition = nullptr;
    Node* user = sole_user(layer->output());
    if (layer->kind() == c10::aten::matmul && user && !linear->bias.defined()) {
      if (auto bias = bias_of(user, layer->output(), linear->weight.size(0))) {
        linear->bias = std::move(*bias);
        bias_addition = last = user;
        user = sole_user(user->output());
      }
    }
    std::vector<Eltwise> eltwise;
    Node* activation = nullptr;
    if (user && user->input(0) == last->output()) {
      eltwise = eltwise_of(user);
      if (!eltwise.empty()) activation = last = user;
    }
    const int64_t rows = c10::multiply_integers(input_sizes->begin(), input_sizes->end() - 1);
    auto plan = c10::make_intrusive<LinearPlan>(std::move(linear->weight),
                                                std::move(linear->bias), std::move(eltwise));
    if (!plan->prepare(rows, dtype)) continue;
    torch::jit::WithInsertPoint before(last);
    Value* plan_value = graph->insertConstant(c10::IValue(plan));
    Value* output = graph->insert(c10::Symbol::fromQualString("xfer::linear_post"),
                                  {layer->input(linear->input), plan_value});
    output->setType(last->output()->type());
    last->output()->replaceAllUsesWith(output);
    for (Node* absorbed : {activation, bias_addition, layer}) {
      if (absorbed) absorbed->destroy();
    }
    ++fused;
  }
  return fused;
}

}  // namespace xfer::infer::detail

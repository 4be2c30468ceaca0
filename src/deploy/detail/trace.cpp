#include "detail/trace.h"

#include "xfer/infer/trace.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/passes/common_subexpression_elimination.h>

namespace xfer::deploy::detail {

std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, int64_t size,
                                         bool features) {
  const at::Tensor images = at::rand({2, 3, size, size});  // two: no batch-of-one shortcuts
  if (!model.classifies_features()) {
    // SqueezeNet's own head classifies the map: logits from forward(), and the features from a
    // second pass of the same backbone, which common subexpression elimination merges into one.
    auto graph = infer::trace(model, images, [&](const at::Tensor& x) -> std::vector<at::Tensor> {
      if (features) return {model.forward(x), model.features(x)};
      return {model.forward(x)};
    });
    torch::jit::EliminateCommonSubexpression(graph);
    return graph;
  }
  return infer::trace(model, images, [&](const at::Tensor& x) -> std::vector<at::Tensor> {
    const at::Tensor f = model.features(x);
    if (features) return {model.classify(f), f};
    return {model.classify(f)};
  });
}

std::unordered_map<const void*, std::string> weight_names(models::ClassifierImpl& model) {
  std::unordered_map<const void*, std::string> names;
  for (const auto& item : model.named_parameters(true)) names[item.value().data_ptr()] = item.key();
  for (const auto& item : model.named_buffers(true)) names[item.value().data_ptr()] = item.key();
  return names;
}

}  // namespace xfer::deploy::detail

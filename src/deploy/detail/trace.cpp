#include "detail/trace.h"

#include "xfer/infer/trace.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/utils.h>

namespace xfer::deploy::detail {

std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, int64_t size,
                                         bool features) {
  infer::TraceGuard frozen(model);
  torch::NoGradGuard no_grad;
  const at::Tensor images = at::rand({2, 3, size, size});  // two: no batch-of-one shortcuts
  auto traced = torch::jit::tracer::trace(
      {images},
      [&](torch::jit::Stack inputs) -> torch::jit::Stack {
        const at::Tensor f = model.features(inputs.at(0).toTensor());
        torch::jit::Stack out = {model.classify(f)};
        if (features) out.emplace_back(f);
        return out;
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false);
  std::shared_ptr<torch::jit::Graph> graph = traced.first->graph;
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

std::unordered_map<const void*, std::string> weight_names(models::ClassifierImpl& model) {
  std::unordered_map<const void*, std::string> names;
  for (const auto& item : model.named_parameters(true)) names[item.value().data_ptr()] = item.key();
  for (const auto& item : model.named_buffers(true)) names[item.value().data_ptr()] = item.key();
  return names;
}

}  // namespace xfer::deploy::detail

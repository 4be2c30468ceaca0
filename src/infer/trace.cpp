#include "xfer/infer/trace.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/utils.h>

namespace xfer::infer {

TraceGuard::TraceGuard(models::ClassifierImpl& model)
    : model_(model), training_(model.is_training()) {
  // modules(false): the model itself may live on the stack, where modules() cannot hold it.
  for (const auto& module : model_.modules(false)) descendants_.push_back(module->is_training());
  for (auto& p : model_.parameters()) {
    requires_grad_.push_back(p.requires_grad());
    p.set_requires_grad(false);
  }
  model_.eval();
}

TraceGuard::~TraceGuard() {
  size_t i = 0;
  for (auto& p : model_.parameters()) p.set_requires_grad(requires_grad_[i++]);
  // train() also sets every descendant, so in pre-order each module ends with its own flag.
  model_.train(training_);
  i = 0;
  for (const auto& module : model_.modules(false)) module->train(descendants_[i++]);
}

std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, const at::Tensor& images,
                                         const TracedPass& pass) {
  TraceGuard frozen(model);
  torch::NoGradGuard no_grad;
  auto traced = torch::jit::tracer::trace(
      {images},
      [&](torch::jit::Stack inputs) -> torch::jit::Stack {
        torch::jit::Stack outputs;
        for (auto& output : pass(inputs.at(0).toTensor())) outputs.emplace_back(std::move(output));
        return outputs;
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false);
  std::shared_ptr<torch::jit::Graph> graph = traced.first->graph;
  torch::jit::EliminateDeadCode(graph);
  return graph;
}

std::shared_ptr<torch::jit::Graph> trace_features(models::ClassifierImpl& model,
                                                  const at::Tensor& images) {
  return trace(model, images, [&](const at::Tensor& x) -> std::vector<at::Tensor> {
    return {model.features(x)};
  });
}

}  // namespace xfer::infer

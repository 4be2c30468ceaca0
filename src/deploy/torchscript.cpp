#include "xfer/deploy/torchscript.h"

#include "detail/trace.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace xfer::deploy {

void write_torchscript(models::ClassifierImpl& model, const TorchScriptOptions& options,
                       const std::filesystem::path& file) {
  if (options.input_size < 1) {
    throw InvalidArgument("export: input size must be at least 1, got " +
                          std::to_string(options.input_size));
  }
  std::shared_ptr<torch::jit::Graph> graph =
      detail::trace(model, options.input_size, /*features=*/false);
  // The traced sizes are those of a batch of two; the code must not promise them.
  torch::jit::EraseShapeInformation(graph);
  torch::jit::Module script(c10::QualifiedName("__torch__.xfer.Classifier"));
  script.register_attribute("training", c10::BoolType::get(), false);
  torch::jit::Value* self = graph->insertInput(0, "self");
  self->setType(script.type());
  // TorchScript's printer cannot write tensor constants into code: each weight becomes a buffer
  // of the module (named by its state_dict key, dots as underscores) read with GetAttr.
  const auto names = detail::weight_names(model);
  std::vector<torch::jit::Node*> constants;
  for (torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::prim::Constant && node->output()->type()->cast<c10::TensorType>()) {
      constants.push_back(node);
    }
  }
  for (torch::jit::Node* node : constants) {
    const at::Tensor tensor = torch::jit::toIValue(node->output())->toTensor();
    const auto key = names.find(tensor.data_ptr());
    std::string name = key != names.end() ? key->second : "constant";
    std::replace(name.begin(), name.end(), '.', '_');
    const std::string base = name;
    for (int64_t k = 1; script.hasattr(name); ++k) name = base + "_" + std::to_string(k);
    script.register_buffer(name, tensor.detach().clone());
    torch::jit::WithInsertPoint here(node);
    node->output()->replaceAllUsesWith(graph->insertGetAttr(self, name));
    node->destroy();
  }
  auto* forward = script._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*script.type()->name(), "forward"), graph);
  script.type()->addMethod(forward);
  torch::jit::ExtraFilesMap extra(options.extra_files.begin(), options.extra_files.end());
  std::ostringstream out;
  script.save(out, extra);
  write_file_atomically(file, out.str());
}

}  // namespace xfer::deploy

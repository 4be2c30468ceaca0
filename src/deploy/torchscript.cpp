#include "xfer/deploy/torchscript.h"

#include "detail/trace.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include <sstream>

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
  graph->insertInput(0, "self")->setType(script.type());
  auto* forward = script._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*script.type()->name(), "forward"), graph);
  script.type()->addMethod(forward);
  torch::jit::ExtraFilesMap extra(options.extra_files.begin(), options.extra_files.end());
  std::ostringstream out;
  script.save(out, extra);
  write_file_atomically(file, out.str());
}

}  // namespace xfer::deploy

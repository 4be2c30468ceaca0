#include "detail/trace.h"

#include "xfer/infer/trace.h"

#include <ATen/ATen.h>

namespace xfer::deploy::detail {

std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, int64_t size,
                                         bool features) {
  const at::Tensor images = at::rand({2, 3, size, size});  // two: no batch-of-one shortcuts
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

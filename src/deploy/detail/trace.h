#pragma once
// A classifier's forward pass recorded by LibTorch's tracer: the graph every export format is
// written from.

#include "xfer/models/classifier.h"

#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace xfer::deploy::detail {

/// The graph of features → classify (or of forward(), for a model whose head does not classify
/// its features) on images [N, 3, size, size], traced in eval mode on a batch of two with every
/// weight a constant: its outputs are the logits, then the features when `features` is set. The
/// model's training mode and requires_grad flags are as before when it returns.
std::shared_ptr<torch::jit::Graph> trace(models::ClassifierImpl& model, int64_t size,
                                         bool features);

/// The state_dict key of each of `model`'s weights, by the address of its data: what names the
/// traced graph's constants.
std::unordered_map<const void*, std::string> weight_names(models::ClassifierImpl& model);

}  // namespace xfer::deploy::detail

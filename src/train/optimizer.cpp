#include "xfer/train/optimizer.h"

#include "xfer/core/error.h"
#include "xfer/models/norms.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace xfer::train {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

// The index in `named` of the first parameter under config.unfreeze_from (0 when it is empty).
size_t unfreeze_index(models::ClassifierImpl& model, const TrainConfig& config,
                      const torch::OrderedDict<std::string, at::Tensor>& named) {
  if (config.unfreeze_from.empty()) return 0;
  for (size_t i = 0; i < named.size(); ++i) {
    if (starts_with(named[i].key(), config.unfreeze_from + ".")) return i;
  }
  std::string children;
  for (const auto& child : model.named_children()) {
    if (!child.value()->parameters().empty()) children += " " + child.key();
  }
  throw InvalidArgument("unfreeze_from: no module '" + config.unfreeze_from +
                        "' with parameters in " + config.model +
                        " (expected a path named_modules lists, e.g. of:" + children + ")");
}

// The options of one parameter group at learning rate `lr`.
std::unique_ptr<torch::optim::OptimizerOptions> group_options(const TrainConfig& config,
                                                              double lr) {
  switch (config.optimizer) {
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::AdamOptions>(
          torch::optim::AdamOptions(lr).weight_decay(config.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(lr).weight_decay(config.weight_decay));
    case OptimizerKind::kSgd:
      break;
  }
  return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(lr)
                                                        .momentum(config.momentum)
                                                        .nesterov(config.nesterov)
                                                        .weight_decay(config.weight_decay));
}

}  // namespace

std::string block_of(const std::string& name) {
  size_t begin = 0;
  while (begin < name.size()) {
    size_t end = name.find('.', begin);
    if (end == std::string::npos) end = name.size();
    const bool digits = end > begin && std::all_of(name.begin() + static_cast<long>(begin),
                                                   name.begin() + static_cast<long>(end),
                                                   [](char c) { return c >= '0' && c <= '9'; });
    if (digits) return name.substr(0, end);
    begin = end + 1;
  }
  return name.substr(0, name.find('.'));
}

ParameterPlan plan_parameters(models::ClassifierImpl& model, const TrainConfig& config,
                              bool backbone_frozen) {
  const std::string head = model.head_path() + ".";
  // The parameters of the normalisation layers the policies freeze.
  std::unordered_set<const c10::TensorImpl*> frozen_norms;
  for (const auto& item : model.named_modules("", false)) {
    const bool frozen =
        (config.batch_norm == BatchNormPolicy::kFrozen && models::is_batch_norm(*item.value())) ||
        (config.layer_norm == LayerNormPolicy::kFrozen && models::is_layer_norm(*item.value()));
    if (!frozen) continue;
    for (const auto& p : item.value()->parameters()) frozen_norms.insert(p.unsafeGetTensorImpl());
  }
  const auto named = model.named_parameters(true);
  const size_t from = unfreeze_index(model, config, named);
  ParameterPlan plan;
  std::string block;  // of the previous backbone parameter
  for (size_t i = 0; i < named.size(); ++i) {
    at::Tensor p = named[i].value();
    plan.total += p.numel();
    const bool in_head = starts_with(named[i].key(), head);
    if (!in_head && block_of(named[i].key()) != block) {
      block = block_of(named[i].key());
      ++plan.layers;
    }
    const bool frozen_norm = frozen_norms.count(p.unsafeGetTensorImpl()) > 0;
    const bool trains = in_head || (!backbone_frozen && i >= from && !frozen_norm);
    p.set_requires_grad(trains);
    if (!trains) continue;
    plan.trainable += p.numel();
    (in_head ? plan.head : plan.backbone).push_back(p);
    if (!in_head) plan.backbone_layers.push_back(plan.layers);
  }
  return plan;
}

void check_unfreeze_from(models::ClassifierImpl& model, const TrainConfig& config) {
  unfreeze_index(model, config, model.named_parameters(true));
}

void set_modes(models::ClassifierImpl& model, const TrainConfig& config) {
  model.train();
  for (const auto& item : model.named_modules("", false)) {
    auto& module = *item.value();
    if (models::is_batch_norm(module) && config.strategy == Strategy::kFinetune &&
        config.batch_norm != BatchNormPolicy::kTrain) {
      module.eval();
      continue;
    }
    const auto params = module.parameters(true);
    if (params.empty()) continue;
    bool all_frozen = true;
    for (const auto& p : params) all_frozen = all_frozen && !p.requires_grad();
    if (all_frozen) module.eval();
  }
}

PhaseOptimizer make_optimizer(const TrainConfig& config, const ParameterPlan& plan) {
  PhaseOptimizer made;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto add = [&](const std::vector<at::Tensor>& params, double lr) {
    if (params.empty()) return;
    made.base_lrs.push_back(lr);
    groups.emplace_back(params, group_options(config, lr));
  };
  add(plan.head, config.lr);
  const double backbone_lr = config.lr * config.backbone_lr_mult;
  const double decay =
      config.lowest_lr_mult > 0 && plan.layers > 0
          ? std::pow(config.lowest_lr_mult, 1.0 / static_cast<double>(plan.layers))
          : config.layer_decay;
  if (decay == 1) {
    add(plan.backbone, backbone_lr);
  } else {
    for (int64_t layer = 1; layer <= plan.layers; ++layer) {
      std::vector<at::Tensor> params;
      for (size_t k = 0; k < plan.backbone.size(); ++k) {
        if (plan.backbone_layers[k] == layer) params.push_back(plan.backbone[k]);
      }
      add(params, backbone_lr * std::pow(decay, static_cast<double>(plan.layers + 1 - layer)));
    }
  }
  switch (config.optimizer) {
    case OptimizerKind::kAdam:
      made.optimizer = std::make_unique<torch::optim::Adam>(std::move(groups));
      break;
    case OptimizerKind::kAdamW:
      made.optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups));
      break;
    case OptimizerKind::kSgd:
      made.optimizer = std::make_unique<torch::optim::SGD>(std::move(groups),
                                                           torch::optim::SGDOptions(config.lr));
      break;
  }
  return made;
}

void check_optimizer(const torch::optim::Optimizer& optimizer, models::ClassifierImpl& model) {
  std::unordered_set<const c10::TensorImpl*> held;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) held.insert(p.unsafeGetTensorImpl());
  }
  size_t trainable = 0;
  for (const auto& item : model.named_parameters(true)) {
    const bool requires = item.value().requires_grad();
    trainable += requires ? 1 : 0;
    if (requires != (held.count(item.value().unsafeGetTensorImpl()) > 0)) {
      throw std::logic_error("optimizer and trainable parameters disagree on '" + item.key() +
                             "' (requires_grad " + (requires ? "true" : "false") + ")");
    }
  }
  if (trainable != held.size()) {
    throw std::logic_error("optimizer holds " + std::to_string(held.size()) +
                           " tensors, expected the " + std::to_string(trainable) + " trainable");
  }
}

}  // namespace xfer::train

#pragma once
// The parameters a phase of a run trains and the optimizer that trains them: which tensors
// require gradients (the strategy, unfreeze_from, the batch-norm policy), which modules keep
// their statistics, and SGD/Adam/AdamW over two groups, the head's and the backbone's — or, with
// layer-wise rate decay, one group per block of the backbone.

#include "xfer/models/classifier.h"
#include "xfer/train/config.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace xfer::train {

/// The parameters one phase trains, in the optimizer's two groups.
struct ParameterPlan {
  /// The head's parameters; they always train.
  std::vector<at::Tensor> head;
  /// The backbone's parameters that train in this phase (none while it is frozen).
  std::vector<at::Tensor> backbone;
  /// The layer of each `backbone` parameter, from 1: the position of its block among all the
  /// backbone's blocks (block_of), in named_parameters order.
  std::vector<int64_t> backbone_layers;
  /// Blocks in the whole backbone, trained or not; the head counts as layer `layers` + 1.
  int64_t layers = 0;
  /// Elements in `head` and `backbone`.
  int64_t trainable = 0;
  /// Elements in every parameter of the model.
  int64_t total = 0;
};

/// The block a backbone parameter belongs to, for layer-wise rate decay: its name up to and
/// including the first all-digit component (`layer1.0.conv1.weight` → `layer1.0`,
/// `features.3.conv.0.0.weight` → `features.3`), else its first component (`bn1.weight` → `bn1`).
std::string block_of(const std::string& parameter_name);

/// Plans a phase of `model` under `config` and sets every parameter's requires_grad to match: the
/// head trains; with `backbone_frozen` false the backbone trains too, from config.unfreeze_from
/// on (all of it when empty), except batch-norm parameters under BatchNormPolicy::kFrozen and
/// layer-norm parameters under LayerNormPolicy::kFrozen.
/// Throws InvalidArgument when unfreeze_from names no module with parameters.
ParameterPlan plan_parameters(models::ClassifierImpl& model, const TrainConfig& config,
                              bool backbone_frozen);

/// Checks that config.unfreeze_from (when set) names a module of `model` with parameters, as
/// plan_parameters will need, without changing the model. Throws InvalidArgument naming the
/// modules it could name.
void check_unfreeze_from(models::ClassifierImpl& model, const TrainConfig& config);

/// Training mode everywhere, except eval for a module whose parameters all have requires_grad
/// false (it keeps its statistics) and, in a fine-tune whose batch-norm policy is not kTrain,
/// for every batch-norm layer. Call after plan_parameters.
void set_modes(models::ClassifierImpl& model, const TrainConfig& config);

/// An optimizer for one phase, with the learning rate each of its groups starts from.
struct PhaseOptimizer {
  /// config.optimizer over the plan's groups: the head's, then the backbone's when not empty.
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  /// Each group's rate before the schedule's factor: config.lr for the head, config.lr ×
  /// config.backbone_lr_mult for the backbone — times decay^(layers + 1 − layer) for the group
  /// of each layer when the decay is below 1: layer_decay (timm's --layer-decay), or
  /// lowest_lr_mult^(1 / layers) when that is set.
  std::vector<double> base_lrs;
};

/// The optimizer config asks for (momentum, Nesterov and weight decay as it says) over `plan`:
/// the head's group, then the backbone's, or one group per trained layer of it (in order) when
/// config.layer_decay < 1 or config.lowest_lr_mult > 0.
PhaseOptimizer make_optimizer(const TrainConfig& config, const ParameterPlan& plan);

/// The trainer's invariant: `optimizer` holds exactly the parameters of `model` that require
/// gradients. Throws std::logic_error naming the first parameter where they disagree (a bug in
/// xfer, never a user's mistake).
void check_optimizer(const torch::optim::Optimizer& optimizer, models::ClassifierImpl& model);

}  // namespace xfer::train

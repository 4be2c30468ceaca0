#pragma once
// checkpoint.pt, what --resume continues from (docs/run-directory.md): the tensors training moves
// (the model's and the best epoch's), the optimizer's state, the CPU generator's state and where
// the run stands. The tensors training did not move are read back from best.safetensors.

#include "xfer/models/classifier.h"
#include "xfer/run/files.h"
#include "xfer/weights/checkpoint.h"

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace xfer::train {

/// Where a run stands after an epoch: what a checkpoint restores besides the tensors.
struct RunState {
  /// Epochs completed.
  int64_t epoch = 0;
  /// Optimizer steps taken (the schedule's position).
  int64_t step = 0;
  /// The phase trained last: 0 with the backbone frozen, 1 with it training, -1 before any.
  int64_t phase = -1;
  /// Whether patience ended the run.
  bool stopped_early = false;
  /// One row per epoch completed.
  std::vector<run::EpochMetrics> rows;
  /// The best epoch's weights so far, every key of the model, on the CPU.
  weights::StateDict best;
  /// The moving average of the weights (TrainConfig::ema_decay), every key of the model; empty
  /// when the run keeps none.
  weights::StateDict ema;
};

/// Adds to `moving` the state-dict keys training can change in `model` as it is now: parameters
/// that require gradients and the buffers of modules in training mode (batch-norm statistics).
/// Called once a phase, so `moving` gathers every key any phase moved.
void add_moving_keys(const models::ClassifierImpl& model, std::set<std::string>& moving);

/// Writes `file` (a zip .pth, whole or not at all): the tensors of `model`, state.best and
/// state.ema whose keys are in `moving`, the optimizer's state, the CPU generator's state, and `state`
/// with `world_size` as JSON. Throws IoError when writing fails.
void write_checkpoint(const std::filesystem::path& file, models::ClassifierImpl& model,
                      torch::optim::Optimizer& optimizer, const RunState& state,
                      const std::set<std::string>& moving, int64_t world_size);

/// A checkpoint read back.
struct SavedRun {
  /// Where the run stood; state.best is every key of the model.
  RunState state;
  /// Processes that trained the run (1 unless distributed).
  int64_t world_size = 1;
  /// The model's weights at the checkpoint, every key.
  weights::StateDict model;
  /// The optimizer's state as torch::serialize::OutputArchive bytes.
  std::string optimizer;
  /// The CPU generator's state (at::Generator::set_state).
  at::Tensor rng;
};

/// Reads the run's checkpoint.pt over its best.safetensors. Throws IoError when either is
/// missing, FormatError when the checkpoint is damaged or not one of xfer's.
SavedRun read_saved_run(const run::RunDirectory& run);

}  // namespace xfer::train

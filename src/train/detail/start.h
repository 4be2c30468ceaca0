#pragma once
// What a run starts from, fresh: the data, the model with its weights and head, the train
// transform and the layout. Shared by training and the learning-rate finder.

#include "xfer/core/runtime.h"
#include "xfer/data/splits.h"
#include "xfer/models/classifier.h"
#include "xfer/run/files.h"
#include "xfer/run/log.h"
#include "xfer/train/config.h"
#include "xfer/transforms/transform.h"

#include <string>
#include <vector>

namespace xfer::train::detail {

/// The model a fresh run starts from, and what rebuilds it.
struct Start {
  /// The model, its weights loaded and its head set.
  models::Classifier model;
  /// Its description (model.json of the run).
  run::ModelDescription arch;
};

/// A model of the architecture `a` describes, with its head, randomly initialised.
models::Classifier build(const run::ModelDescription& a);

/// The splits of `c` (run_splits), first fetching the dataset when `c.download` asks (logged).
data::Splits load_data(const TrainConfig& c, run::RunLog& log);

/// The model `c` starts from for `classes`: its `weights` (none, a run directory — its head kept
/// only for the same classes and head — or anything load_pretrained reads) and its head, each
/// step logged. Throws as load_pretrained and load_run, InvalidArgument for a run of another
/// architecture.
Start initial_model(const TrainConfig& c, const std::vector<std::string>& classes,
                    run::RunLog& log);

/// The train transform `c.train_transform` names, for a model whose input is `input` and whose
/// eval transform is `eval`.
transforms::Transform train_transform_for(const TrainConfig& c, const models::InputSpec& input,
                                          const transforms::Transform& eval);

/// The layout a run trains in: default_layout, except NCHW for a fine-tune of a model the
/// registry says trains faster so (ModelInfo::finetune_in_nchw).
Layout training_layout(const TrainConfig& c, int64_t image_size);

}  // namespace xfer::train::detail

#pragma once
// A run directory (docs/run-directory.md): the name of every file in it (RunDirectory), and the
// readers and writers of the files that more than one module reads or writes: model.json (the
// architecture, written when training starts, read to rebuild the model), metrics.csv (one row
// per epoch, written by training, drawn by viz), predictions.csv (one row per test sample, written
// by evaluation, drawn by viz) and results.json (the test evaluation at the end of training, shown
// by the report). All are rewritten whole and atomically.

#include "xfer/eval/measures.h"
#include "xfer/models/input_spec.h"

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace xfer::run {

/// Where each file of the run directory at root() lies; the one place their names are spelt.
class RunDirectory {
 public:
  /// The run directory at `root` (whether it exists is not checked).
  explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}

  /// The directory itself.
  const std::filesystem::path& root() const { return root_; }
  /// config.json: the resolved TrainConfig (train/config.h), written when the run starts.
  std::filesystem::path config() const { return root_ / "config.json"; }
  /// model.json: the ModelDescription, written when the run starts.
  std::filesystem::path model() const { return root_ / "model.json"; }
  /// log.txt: the run's account, appended line by line (a resume appends to it).
  std::filesystem::path log() const { return root_ / "log.txt"; }
  /// checkpoint.pt: what training moves, written every epoch (train/checkpoint.h).
  std::filesystem::path checkpoint() const { return root_ / "checkpoint.pt"; }
  /// best.safetensors: the best epoch's weights.
  std::filesystem::path best_weights() const { return root_ / "best.safetensors"; }
  /// best.pth: the same weights for torch.load.
  std::filesystem::path best_pth() const { return root_ / "best.pth"; }
  /// metrics.csv: one EpochMetrics row per epoch.
  std::filesystem::path metrics() const { return root_ / "metrics.csv"; }
  /// predictions.csv: one Prediction row per test sample.
  std::filesystem::path predictions() const { return root_ / "predictions.csv"; }
  /// results.json: the Results of the run.
  std::filesystem::path results() const { return root_ / "results.json"; }
  /// curves.png: loss and accuracy per epoch.
  std::filesystem::path curves() const { return root_ / "curves.png"; }
  /// confusion.png: the test confusion matrix.
  std::filesystem::path confusion() const { return root_ / "confusion.png"; }
  /// samples.png: test images with their true and predicted labels.
  std::filesystem::path samples() const { return root_ / "samples.png"; }
  /// maps/: one feature-map picture per layer, `<layer>.png`.
  std::filesystem::path maps() const { return root_ / "maps"; }
  /// report.html: one self-contained page of all of the above.
  std::filesystem::path report() const { return root_ / "report.html"; }
  /// confusion-SPLIT.csv: the confusion matrix `xfer eval` measured on `split` (train, val, test).
  std::filesystem::path split_confusion(const std::string& split) const {
    return root_ / ("confusion-" + split + ".csv");
  }

  /// Whether a run was started here: config.json or checkpoint.pt exists.
  bool holds_run() const;

 private:
  std::filesystem::path root_;
};

/// What rebuilds a run's model without its original weights source: model.json,
/// `{"model": "resnet18", "num_classes": 2, "width_mult": 1.0, "tf_same_padding": false,
/// "image_size": 0, "transform_input": false, "head": "linear", "dropout": 0.0, "input":
/// {"size": 224, "resize": 256, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
/// "classes": ["ants", "bees"]}`.
struct ModelDescription {
  /// Registry name of the architecture.
  std::string model;
  /// Classes of the head.
  int64_t num_classes = 0;
  /// mobilenet_v1's width multiplier (1.0 for every other model).
  double width_mult = 1.0;
  /// TensorFlow SAME padding (weights imported from TFLite).
  bool tf_same_padding = false;
  /// A Vision Transformer's ModelOptions::image_size (0: the default; runs before the key: 0).
  int64_t image_size = 0;
  /// GoogLeNet's and Inception v3's ModelOptions::transform_input (runs before the key: false).
  bool transform_input = false;
  /// The head as TrainConfig::head spells it: `linear` or `mlp:W1,W2,...`.
  std::string head = "linear";
  /// Dropout of an MLP head.
  double dropout = 0;
  /// The input the weights expect (the registry's, or the weights' own).
  models::InputSpec input;
  /// Names of the classes, index = class.
  std::vector<std::string> classes;
};

/// Writes `model` as model.json (the keys above, 2-space indented), atomically. Throws IoError
/// when the file cannot be written.
void write_model_description(const std::filesystem::path& file, const ModelDescription& model);

/// Reads a model.json written by write_model_description; every key is required. Throws IoError
/// when it cannot be read, FormatError naming the file when it is not such a file.
ModelDescription read_model_description(const std::filesystem::path& file);

/// One epoch of training: a row of metrics.csv. Accuracies are fractions in [0, 1].
struct EpochMetrics {
  /// Epoch number, from 1.
  int64_t epoch = 0;
  /// Mean loss over the epoch's training batches.
  double train_loss = 0;
  /// Fraction of training samples classified right during the epoch.
  double train_acc = 0;
  /// Mean loss over the validation split, after the epoch.
  double val_loss = 0;
  /// Fraction of the validation split classified right, after the epoch.
  double val_acc = 0;
  /// Learning rate of the head at the epoch's last step.
  double lr = 0;
  /// Wall time of the epoch (training and validation), in seconds.
  double seconds = 0;
  /// Mean validation loss of the weights' moving average (--ema); NaN when the run keeps none.
  double ema_val_loss = std::numeric_limits<double>::quiet_NaN();
  /// Validation accuracy of the weights' moving average; NaN when the run keeps none.
  double ema_val_acc = std::numeric_limits<double>::quiet_NaN();
};

/// Whether the row's moving average validated better than the weights themselves: higher
/// accuracy, or the same with a lower loss. False for a row without one.
bool ema_is_better(const EpochMetrics& row);

/// Writes `rows` as metrics.csv (`epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds`, then
/// `ema_val_loss,ema_val_acc` when a row has them), atomically. Throws IoError when the file
/// cannot be written.
void write_metrics(const std::filesystem::path& file, const std::vector<EpochMetrics>& rows);

/// Reads a metrics.csv written by write_metrics. Throws IoError when it cannot be read,
/// FormatError naming the line and column when it is not such a file.
std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file);

/// The epoch training keeps: highest validation accuracy, ties broken by lower loss, then the
/// earliest; a row's measures are its moving average's where ema_is_better. Returns 0 for no
/// rows.
int64_t best_epoch(const std::vector<EpochMetrics>& rows);

/// `field` as one CSV field (RFC 4180): quoted, its quotes doubled, when it holds a comma, a
/// quote or a line break; as it is otherwise.
std::string csv_field(const std::string& field);

/// One test sample's prediction: a row of predictions.csv.
struct Prediction {
  /// Position of the sample in the test split.
  int64_t index = 0;
  /// True class.
  int64_t label = 0;
  /// Predicted class (the arg-max).
  int64_t predicted = 0;
  /// Softmax probability of the predicted class.
  double probability = 0;
  /// The image file, empty for in-memory datasets (CIFAR binary, IDX).
  std::string file;
};

/// Writes `rows` as predictions.csv (`index,label,label_name,predicted,predicted_name,probability,
/// file`, names from `classes`, fields quoted as RFC 4180 says), atomically. Throws
/// InvalidArgument for a label outside `classes`, IoError when the file cannot be written.
void write_predictions(const std::filesystem::path& file, const std::vector<Prediction>& rows,
                       const std::vector<std::string>& classes);

/// Reads a predictions.csv written by write_predictions. Throws IoError when it cannot be read,
/// FormatError naming the line when it is not such a file.
std::vector<Prediction> read_predictions(const std::filesystem::path& file);

/// A predictions.csv with the class names its name columns spell.
struct PredictionsTable {
  /// The rows, as read_predictions returns them.
  std::vector<Prediction> rows;
  /// `classes[k]` is the name written beside class k in the label or the predicted column, for k
  /// up to the highest class seen; a class in neither column is named "class K".
  std::vector<std::string> classes;
};

/// Reads a predictions.csv and its class names. Throws as read_predictions, and FormatError
/// naming the line when a class is spelled two different ways.
PredictionsTable read_predictions_table(const std::filesystem::path& file);

/// What results.json holds: `{"best_epoch": 7, "epochs_trained": 10, "stopped_early": false,
/// "test": {"loss": 0.31, "top1": 0.91, "top5": 0.99, "count": 10000}, "classes": ["ants",
/// "bees"], "trainable_parameters": 5130, "total_parameters": 11181642}`. The trainer writes it
/// when a run ends; report and eval read it.
struct Results {
  /// The epoch whose weights were kept and tested (from 1).
  int64_t best_epoch = 0;
  /// Epochs trained, those before a --resume included; 0 where a file does not say.
  int64_t epochs_trained = 0;
  /// Whether patience ended the run before its last epoch.
  bool stopped_early = false;
  /// The test evaluation of those weights.
  eval::Measures test;
  /// Names of the classes, index = class; may be empty.
  std::vector<std::string> classes;
  /// Parameters the optimizer trained in the last phase; 0 where a file does not say.
  int64_t trainable_parameters = 0;
  /// Parameters in the model; 0 where a file does not say.
  int64_t total_parameters = 0;
};

/// Writes `results` as results.json (the keys above, 2-space indented), atomically. Throws IoError
/// when the file cannot be written.
void write_results(const std::filesystem::path& file, const Results& results);

/// Reads a results.json: `best_epoch` and `test` with its four members are required; `classes`,
/// `epochs_trained`, `stopped_early` and the parameter counts are optional (files written before
/// they existed lack them); other keys are ignored. Throws IoError when it cannot be read, FormatError naming
/// the key when it is not such a file.
Results read_results(const std::filesystem::path& file);

}  // namespace xfer::run

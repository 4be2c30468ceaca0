#pragma once
// The files of a run directory that more than one module reads or writes (docs/run-directory.md):
// metrics.csv (one row per epoch, written by training, drawn by viz), predictions.csv (one row
// per test sample, written by evaluation, drawn by viz) and results.json (the test evaluation at
// the end of training, shown by the report). All are rewritten whole and atomically.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xfer::run {

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
};

/// Writes `rows` as metrics.csv (`epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds`),
/// atomically. Throws IoError when the file cannot be written.
void write_metrics(const std::filesystem::path& file, const std::vector<EpochMetrics>& rows);

/// Reads a metrics.csv written by write_metrics. Throws IoError when it cannot be read,
/// FormatError naming the line and column when it is not such a file.
std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file);

/// The epoch training keeps: highest val_acc, ties broken by lower val_loss, then the earliest.
/// Returns 0 for no rows.
int64_t best_epoch(const std::vector<EpochMetrics>& rows);

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

/// The test split's measures at the end of training.
struct TestMeasures {
  /// Mean cross-entropy.
  double loss = 0;
  /// Fraction whose arg-max is the label.
  double top1 = 0;
  /// Fraction whose label is among the 5 highest logits.
  double top5 = 0;
  /// Samples evaluated.
  int64_t count = 0;
};

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
  TestMeasures test;
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

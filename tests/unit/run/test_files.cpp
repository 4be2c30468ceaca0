// The run directory: its file names; model.json, metrics.csv, predictions.csv and results.json
// read back what was written, bit for bit, and malformed files are refused with the line and
// column; log.txt keeps the lines logged before it was opened.

#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/run/files.h"
#include "xfer/run/log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <typename Error, typename Call>
std::string message_of(Call call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

std::vector<run::EpochMetrics> some_epochs() {
  return {{1, 1.0 / 3, 0.5, 0.9, 0.61, 0.01, 12.5},
          {2, 0.1, 0.75, 0.7, 0.72, 1e-3, 11.25},
          {3, 2.5e-8, 0.999, 0.71, 0.72, 1e-4, 11}};
}

TEST(MetricsCsv, ReadsBackExactlyWhatWasWritten) {
  const auto file = temp_dir("metrics") / "metrics.csv";
  const auto rows = some_epochs();
  run::write_metrics(file, rows);
  EXPECT_EQ(read_file(file).substr(0, 55),
            "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
  const auto back = run::read_metrics(file);
  ASSERT_EQ(back.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(back[i].epoch, rows[i].epoch);
    EXPECT_EQ(back[i].train_loss, rows[i].train_loss);  // shortest round-trip text: exact
    EXPECT_EQ(back[i].train_acc, rows[i].train_acc);
    EXPECT_EQ(back[i].val_loss, rows[i].val_loss);
    EXPECT_EQ(back[i].val_acc, rows[i].val_acc);
    EXPECT_EQ(back[i].lr, rows[i].lr);
    EXPECT_EQ(back[i].seconds, rows[i].seconds);
  }
}

TEST(MetricsCsv, AHeaderAloneIsARunWithNoEpochYet) {
  const auto file = temp_dir("metrics_empty") / "metrics.csv";
  run::write_metrics(file, {});
  EXPECT_TRUE(run::read_metrics(file).empty());
}

TEST(MetricsCsv, KeepsANanLoss) {
  const auto file = temp_dir("metrics_nan") / "metrics.csv";
  auto rows = some_epochs();
  rows[1].train_loss = std::numeric_limits<double>::quiet_NaN();
  run::write_metrics(file, rows);
  EXPECT_TRUE(std::isnan(run::read_metrics(file)[1].train_loss));
}

TEST(MetricsCsv, NamesTheLineAndColumnOfABadNumber) {
  const auto dir = temp_dir("metrics_bad");
  write_file_atomically(dir / "metrics.csv",
                        "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n"
                        "1,0.5,0.5,0.5,0.5,0.1,1\r\n"
                        "2,0.5,0.5,abc,0.5,0.1,1\n");
  const auto message = message_of<FormatError>([&] { run::read_metrics(dir / "metrics.csv"); });
  EXPECT_TRUE(contains(message,
                       "metrics.csv: line 3, column 4 (val_loss): expected a number, "
                       "found 'abc'"))
      << message;
}

TEST(MetricsCsv, RefusesAnotherHeaderAShortRowAndEpochZero) {
  const auto dir = temp_dir("metrics_header");
  write_file_atomically(dir / "a.csv", "epoch,loss\n1,2\n");
  auto message = message_of<FormatError>([&] { run::read_metrics(dir / "a.csv"); });
  EXPECT_TRUE(contains(message, "line 1: expected the header 'epoch,train_loss,"));
  EXPECT_TRUE(contains(message, "found 'epoch,loss'")) << message;
  write_file_atomically(dir / "b.csv",
                        "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n1,2,3\n");
  message = message_of<FormatError>([&] { run::read_metrics(dir / "b.csv"); });
  EXPECT_TRUE(contains(message, "line 2: expected 7 fields, found 3")) << message;
  write_file_atomically(dir / "c.csv",
                        "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n0,1,1,1,1,1,1\n");
  message = message_of<FormatError>([&] { run::read_metrics(dir / "c.csv"); });
  EXPECT_TRUE(contains(message, "column 1 (epoch): expected an integer in [1, ")) << message;
  write_file_atomically(dir / "d.csv", "");
  message = message_of<FormatError>([&] { run::read_metrics(dir / "d.csv"); });
  EXPECT_TRUE(contains(message, "found an empty file")) << message;
}

TEST(MetricsCsv, AMissingFileIsAnIoError) {
  const auto missing = temp_dir("metrics_missing") / "metrics.csv";
  const auto message = message_of<IoError>([&] { run::read_metrics(missing); });
  EXPECT_TRUE(contains(message, missing.string())) << message;
}

TEST(BestEpoch, HighestValidationAccuracyThenLowerLossThenEarliest) {
  EXPECT_EQ(run::best_epoch({}), 0);
  auto rows = some_epochs();
  // Epochs 2 and 3 tie on val_acc 0.72; epoch 2 has the lower val_loss.
  EXPECT_EQ(run::best_epoch(rows), 2);
  rows[2].val_loss = rows[1].val_loss;  // a full tie: the earliest
  EXPECT_EQ(run::best_epoch(rows), 2);
  rows[2].val_acc = 0.8;
  EXPECT_EQ(run::best_epoch(rows), 3);
  rows[2].val_acc = std::numeric_limits<double>::quiet_NaN();  // a NaN accuracy never wins
  EXPECT_EQ(run::best_epoch(rows), 2);
}

// --ema: a row's measures are its moving average's when those validate better, and metrics.csv
// gains their columns only for runs that keep one.
TEST(BestEpoch, AMovingAverageThatValidatesBetterCountsForItsEpoch) {
  auto rows = some_epochs();  // best: epoch 2, val_acc 0.72
  EXPECT_FALSE(run::ema_is_better(rows[0]));
  rows[0].ema_val_acc = 0.9;
  rows[0].ema_val_loss = 0.5;
  EXPECT_TRUE(run::ema_is_better(rows[0]));
  EXPECT_EQ(run::best_epoch(rows), 1);
  rows[0].ema_val_acc = rows[0].val_acc;  // a tie on accuracy: the lower loss
  rows[0].ema_val_loss = rows[0].val_loss + 1;
  EXPECT_FALSE(run::ema_is_better(rows[0]));
  rows[0].ema_val_loss = rows[0].val_loss - 0.01;
  EXPECT_TRUE(run::ema_is_better(rows[0]));
  EXPECT_EQ(run::best_epoch(rows), 2);  // epoch 1's better average is still below epoch 2
  rows[1].ema_val_acc = 0.1;  // a worse average leaves its epoch's own measures
  rows[1].ema_val_loss = 9;
  EXPECT_EQ(run::best_epoch(rows), 2);

  const auto dir = temp_dir("metrics_ema");
  run::write_metrics(dir / "plain.csv", some_epochs());
  EXPECT_EQ(read_file(dir / "plain.csv").substr(0, 55),
            "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
  run::write_metrics(dir / "ema.csv", rows);
  EXPECT_EQ(read_file(dir / "ema.csv").substr(0, 80),
            "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,ema_val_loss,ema_val_acc\n");
  const auto back = run::read_metrics(dir / "ema.csv");
  ASSERT_EQ(back.size(), rows.size());
  EXPECT_EQ(back[1].ema_val_acc, 0.1);
  EXPECT_EQ(back[0].ema_val_loss, rows[0].ema_val_loss);
  EXPECT_TRUE(std::isnan(back[2].ema_val_acc));  // an epoch without one reads back as NaN
  EXPECT_TRUE(std::isnan(run::read_metrics(dir / "plain.csv")[0].ema_val_acc));
}

TEST(PredictionsCsv, QuotesNamesAndFilesAndReadsThemBack) {
  const auto file = temp_dir("predictions") / "predictions.csv";
  const std::vector<std::string> classes = {"ants, red", "say \"bee\"", "two\nlines"};
  const std::vector<run::Prediction> rows = {
      {0, 0, 1, 0.625, "/data/a,b.jpg"}, {1, 2, 2, 0.1 + 0.2, ""}, {7, 1, 0, 1.0, "plain.png"}};
  run::write_predictions(file, rows, classes);
  const std::string text = read_file(file);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "index,label,label_name,predicted,predicted_name,probability,file");
  EXPECT_TRUE(contains(text, "0,0,\"ants, red\",1,\"say \"\"bee\"\"\",0.625,\"/data/a,b.jpg\"\n"))
      << text;
  const auto table = run::read_predictions_table(file);
  ASSERT_EQ(table.rows.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(table.rows[i].index, rows[i].index);
    EXPECT_EQ(table.rows[i].label, rows[i].label);
    EXPECT_EQ(table.rows[i].predicted, rows[i].predicted);
    EXPECT_EQ(table.rows[i].probability, rows[i].probability);
    EXPECT_EQ(table.rows[i].file, rows[i].file);
  }
  EXPECT_EQ(table.classes, classes);
  EXPECT_EQ(run::read_predictions(file).size(), rows.size());
}

TEST(PredictionsCsv, NamesAClassThatNoRowMentions) {
  const auto file = temp_dir("predictions_gap") / "predictions.csv";
  run::write_predictions(file, {{0, 0, 2, 0.5, ""}}, {"a", "b", "c"});
  EXPECT_EQ(run::read_predictions_table(file).classes,
            (std::vector<std::string>{"a", "class 1", "c"}));
}

TEST(PredictionsCsv, RefusesAClassOutsideTheNamesWhenWriting) {
  const auto file = temp_dir("predictions_bad") / "predictions.csv";
  auto message = message_of<InvalidArgument>([&] {
    run::write_predictions(file, {{4, 2, 0, 0.5, ""}}, {"a", "b"});
  });
  EXPECT_TRUE(contains(message, "row 0 (index 4): expected a label in [0, 2), got 2")) << message;
  message = message_of<InvalidArgument>([&] {
    run::write_predictions(file, {{4, 0, -1, 0.5, ""}}, {"a", "b"});
  });
  EXPECT_TRUE(contains(message, "expected a predicted class in [0, 2), got -1")) << message;
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(PredictionsCsv, RefusesMalformedFiles) {
  const auto dir = temp_dir("predictions_malformed");
  const std::string header = "index,label,label_name,predicted,predicted_name,probability,file\n";
  write_file_atomically(dir / "a.csv", header + "0,0,a,1,b,0.5,\n1,0,z,0,z,0.5,\n");
  auto message = message_of<FormatError>([&] { run::read_predictions(dir / "a.csv"); });
  EXPECT_TRUE(contains(message, "line 3: class 0 is named 'z', but 'a' on line 2")) << message;
  write_file_atomically(dir / "b.csv", header + "0,0,a,1,\"b,0.5,\n");
  message = message_of<FormatError>([&] { run::read_predictions(dir / "b.csv"); });
  EXPECT_TRUE(contains(message, "line 2: quoted field never closed")) << message;
  write_file_atomically(dir / "c.csv", header + "0,-1,a,1,b,0.5,\n");
  message = message_of<FormatError>([&] { run::read_predictions(dir / "c.csv"); });
  EXPECT_TRUE(contains(message, "line 2, column 2 (label): expected an integer in [0, "))
      << message;
  write_file_atomically(dir / "d.csv", header + "0,0,a,99999999999,b,0.5,\n");
  message = message_of<FormatError>([&] { run::read_predictions(dir / "d.csv"); });
  EXPECT_TRUE(contains(message, "column 4 (predicted)")) << message;
}

TEST(ResultsJson, ReadsBackWhatWasWritten) {
  const auto file = temp_dir("results") / "results.json";
  run::Results results;
  results.best_epoch = 7;
  results.epochs_trained = 10;
  results.stopped_early = true;
  results.test = {0.31, 0.91, 0.99, 10000};
  results.classes = {"ants", "bees"};
  results.trainable_parameters = 5130;
  results.total_parameters = 11181642;
  run::write_results(file, results);
  const auto back = run::read_results(file);
  EXPECT_EQ(back.best_epoch, 7);
  EXPECT_EQ(back.epochs_trained, 10);
  EXPECT_TRUE(back.stopped_early);
  EXPECT_EQ(back.trainable_parameters, 5130);
  EXPECT_EQ(back.total_parameters, 11181642);
  EXPECT_EQ(back.test.loss, 0.31);
  EXPECT_EQ(back.test.top1, 0.91);
  EXPECT_EQ(back.test.top5, 0.99);
  EXPECT_EQ(back.test.count, 10000);
  EXPECT_EQ(back.classes, results.classes);
}

TEST(ResultsJson, ClassesAreOptionalAndMissingKeysAreNamed) {
  const auto dir = temp_dir("results_bad");
  write_file_atomically(dir / "a.json",
                        R"({"best_epoch": 2, "test": {"loss": 1, "top1": 0.5, "top5": 1,
                            "count": 4}, "extra": true})");
  const auto old = run::read_results(dir / "a.json");  // as written before the optional keys
  EXPECT_TRUE(old.classes.empty());
  EXPECT_EQ(old.epochs_trained, 0);
  EXPECT_FALSE(old.stopped_early);
  EXPECT_EQ(old.total_parameters, 0);
  write_file_atomically(dir / "b.json",
                        R"({"best_epoch": 2, "test": {"loss": 1, "top1": 0.5, "count": 4}})");
  auto message = message_of<FormatError>([&] { run::read_results(dir / "b.json"); });
  EXPECT_TRUE(contains(message, "expected a key 'test.top5'")) << message;
  write_file_atomically(dir / "c.json", R"({"best_epoch": "7"})");
  message = message_of<FormatError>([&] { run::read_results(dir / "c.json"); });
  EXPECT_TRUE(contains(message, "'best_epoch': expected an integer")) << message;
  write_file_atomically(dir / "e.json", R"({"best_epoch": 2, "test": {"loss": 1, "top1": 0.5,
                            "top5": 1, "count": 4}, "stopped_early": "no"})");
  message = message_of<FormatError>([&] { run::read_results(dir / "e.json"); });
  EXPECT_TRUE(contains(message, "'stopped_early': expected true or false")) << message;
  write_file_atomically(dir / "d.json", "{");
  message = message_of<FormatError>([&] { run::read_results(dir / "d.json"); });
  EXPECT_TRUE(contains(message, "d.json: not JSON")) << message;
}

TEST(ModelJson, ReadsBackWhatWasWritten) {
  const auto file = temp_dir("model_json") / "model.json";
  run::ModelDescription model;
  model.model = "mobilenet_v1";
  model.num_classes = 3;
  model.width_mult = 0.25;
  model.tf_same_padding = true;
  model.transform_input = true;
  model.head = "mlp:64";
  model.dropout = 0.2;
  model.input = {128, 146, {0.5, 0.5, 0.5}, {0.5, 0.25, 0.125}, Interpolation::kBicubic};
  model.classes = {"a, b", "\"quoted\"", "c"};
  run::write_model_description(file, model);
  const auto back = run::read_model_description(file);
  EXPECT_EQ(back.model, "mobilenet_v1");
  EXPECT_EQ(back.num_classes, 3);
  EXPECT_EQ(back.width_mult, 0.25);
  EXPECT_TRUE(back.tf_same_padding);
  EXPECT_TRUE(back.transform_input);
  EXPECT_EQ(back.head, "mlp:64");
  EXPECT_EQ(back.dropout, 0.2);
  EXPECT_EQ(back.input.size, 128);
  EXPECT_EQ(back.input.resize, 146);
  EXPECT_EQ(back.input.mean, model.input.mean);
  EXPECT_EQ(back.input.std, model.input.std);
  EXPECT_EQ(back.input.interpolation, Interpolation::kBicubic);
  EXPECT_EQ(back.classes, model.classes);
}

// Runs written before model.json named the interpolation resized bilinearly; a name other than
// bilinear or bicubic is a damaged file.
TEST(ModelJson, InterpolationIsBilinearWhereUnnamedAndRefusedWhereUnknown) {
  const auto dir = temp_dir("model_json_interpolation");
  const std::string before =
      R"({"model": "resnet18", "num_classes": 2, "width_mult": 1.0, "tf_same_padding": false,
          "head": "linear", "dropout": 0.0, "classes": ["a", "b"],
          "input": {"size": 224, "resize": 256, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5])";
  write_file_atomically(dir / "old.json", before + "}}");
  EXPECT_EQ(run::read_model_description(dir / "old.json").input.interpolation,
            Interpolation::kBilinear);
  EXPECT_FALSE(run::read_model_description(dir / "old.json").transform_input);
  write_file_atomically(dir / "bad.json", before + R"(, "interpolation": "lanczos"}})");
  const auto message =
      message_of<FormatError>([&] { run::read_model_description(dir / "bad.json"); });
  EXPECT_TRUE(contains(message, "bad.json: input.interpolation: expected bilinear or bicubic, "
                                "got 'lanczos'"))
      << message;
}

TEST(ModelJson, EveryKeyIsRequiredAndAMissingFileIsAnIoError) {
  const auto dir = temp_dir("model_json_bad");
  write_file_atomically(dir / "model.json", R"({"model": "resnet18", "num_classes": 2})");
  const auto message =
      message_of<FormatError>([&] { run::read_model_description(dir / "model.json"); });
  EXPECT_TRUE(contains(message, "model.json: not a run's model description")) << message;
  EXPECT_TRUE(contains(message, "width_mult")) << message;
  EXPECT_THROW(run::read_model_description(dir / "none.json"), IoError);
}

TEST(RunDirectory, NamesEveryFileAndKnowsARunStartedThere) {
  const auto root = temp_dir("run_directory");
  const run::RunDirectory dir(root);
  EXPECT_EQ(dir.config(), root / "config.json");
  EXPECT_EQ(dir.model(), root / "model.json");
  EXPECT_EQ(dir.log(), root / "log.txt");
  EXPECT_EQ(dir.checkpoint(), root / "checkpoint.pt");
  EXPECT_EQ(dir.best_weights(), root / "best.safetensors");
  EXPECT_EQ(dir.best_pth(), root / "best.pth");
  EXPECT_EQ(dir.metrics(), root / "metrics.csv");
  EXPECT_EQ(dir.predictions(), root / "predictions.csv");
  EXPECT_EQ(dir.results(), root / "results.json");
  EXPECT_EQ(dir.maps(), root / "maps");
  EXPECT_EQ(dir.report(), root / "report.html");
  EXPECT_EQ(dir.split_confusion("val"), root / "confusion-val.csv");
  EXPECT_FALSE(dir.holds_run());
  write_file_atomically(dir.checkpoint(), "x");
  EXPECT_TRUE(dir.holds_run()) << "a run killed before its config was read back still holds one";
}

TEST(RunLog, KeepsTheLinesBeforeTheFileAndPassesEveryLineToItsSink) {
  const auto file = temp_dir("run_log") / "log.txt";
  std::vector<std::string> seen;
  run::RunLog log([&seen](const std::string& line) { seen.push_back(line); });
  log("before");
  log.open(file);
  log("after");
  EXPECT_EQ(read_file(file), "before\nafter\n");
  EXPECT_EQ(seen, (std::vector<std::string>{"before", "after"}));
  run::RunLog again(nullptr);  // a resume appends
  again.open(file);
  again("resumed");
  EXPECT_EQ(read_file(file), "before\nafter\nresumed\n");
}

TEST(RunLog, WithoutAFileKeepsNothing) {
  std::vector<std::string> seen;
  run::RunLog log([&seen](const std::string& line) { seen.push_back(line); });
  log("dropped");
  log.without_file();
  const auto file = temp_dir("run_log_none") / "log.txt";
  log.open(file);
  log("only the sink");
  EXPECT_EQ(read_file(file), "");
  EXPECT_EQ(seen, (std::vector<std::string>{"dropped", "only the sink"}));
}

TEST(RunLog, AFileThatCannotBeOpenedIsAnIoError) {
  run::RunLog log(nullptr);
  const auto dir = temp_dir("run_log_bad");
  EXPECT_THROW(log.open(dir / "no" / "such" / "log.txt"), IoError);
}

}  // namespace
}  // namespace xfer::testing

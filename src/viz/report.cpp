#include "xfer/viz/report.h"

#include "detail/format.h"
#include "detail/html.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/eval/metrics.h"
#include "xfer/viz/confusion.h"
#include "xfer/viz/curves.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <system_error>

namespace xfer::viz {
namespace {

namespace fs = std::filesystem;
using detail::embed_png;
using detail::escape;
using detail::fixed;
using detail::section;

void require_directory(const fs::path& run_dir) {
  std::error_code error;
  if (!fs::is_directory(run_dir, error)) {
    throw IoError("run directory '" + run_dir.string() + "': not a directory" +
                  (error ? " (" + error.message() + ")" : std::string()));
  }
}

bool is_file(const fs::path& file) {
  std::error_code error;
  return fs::is_regular_file(file, error);
}

std::string run_name(const fs::path& run_dir) {
  const fs::path normal = run_dir.lexically_normal();
  std::string name = normal.filename().string();
  if (name.empty()) name = normal.parent_path().filename().string();
  return name.empty() ? normal.string() : name;
}

std::string metrics_table(const std::vector<run::EpochMetrics>& rows, int64_t best) {
  std::string html =
      "<table>\n<tr><th>epoch</th><th>training loss</th><th>training accuracy</th>"
      "<th>validation loss</th><th>validation accuracy</th><th>learning rate</th>"
      "<th>seconds</th></tr>\n";
  for (const auto& row : rows) {
    html += std::string(row.epoch == best ? "<tr class=\"best\">" : "<tr>") + "<td>" +
            std::to_string(row.epoch) + (row.epoch == best ? " (best)" : "") + "</td><td>" +
            fixed(row.train_loss, 4) + "</td><td>" + detail::percent_text(row.train_acc, 2) +
            "</td><td>" + fixed(row.val_loss, 4) + "</td><td>" +
            detail::percent_text(row.val_acc, 2) + "</td><td>" +
            escape(detail::number_text(row.lr)) + "</td><td>" + fixed(row.seconds, 1) +
            "</td></tr>\n";
  }
  return html + "</table>\n";
}

std::string classes_table(const eval::Confusion& confusion,
                          const std::vector<std::string>& classes) {
  std::string html =
      "<table>\n<tr><th>class</th><th>samples</th><th>predicted as it</th><th>precision</th>"
      "<th>recall</th></tr>\n";
  double precision_sum = 0;
  double recall_sum = 0;
  for (int64_t c = 0; c < confusion.num_classes(); ++c) {
    int64_t predicted = 0;
    for (int64_t label = 0; label < confusion.num_classes(); ++label) {
      predicted += confusion.count(label, c);
    }
    precision_sum += confusion.precision(c);
    recall_sum += confusion.recall(c);
    html += "<tr><td>" + escape(classes[static_cast<size_t>(c)]) + "</td><td>" +
            std::to_string(confusion.support(c)) + "</td><td>" + std::to_string(predicted) +
            "</td><td>" + detail::percent_text(confusion.precision(c), 1) + "</td><td>" +
            detail::percent_text(confusion.recall(c), 1) + "</td></tr>\n";
  }
  const auto n = static_cast<double>(confusion.num_classes());
  html += "<tr class=\"total\"><td>mean over classes</td><td>" + std::to_string(confusion.total()) +
          "</td><td>" + std::to_string(confusion.total()) + "</td><td>" +
          detail::percent_text(precision_sum / n, 1) + "</td><td>" +
          detail::percent_text(recall_sum / n, 1) + "</td></tr>\n";
  return html + "</table>\n";
}

std::string pretty_json(const fs::path& file) {
  try {
    // ordered_json keeps the file's order of keys.
    return nlohmann::ordered_json::parse(read_file(file))
        .dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(file.string() + ": not JSON: " + e.what());
  }
}

}  // namespace

std::vector<std::string> run_classes(const fs::path& run_dir) {
  const run::RunDirectory dir(run_dir);
  const fs::path results_file = dir.results();
  const fs::path predictions_file = dir.predictions();
  std::vector<std::string> classes;
  if (is_file(results_file)) classes = run::read_results(results_file).classes;
  if (!is_file(predictions_file)) return classes;
  const auto table = run::read_predictions_table(predictions_file);
  if (classes.empty()) return table.classes;
  if (table.classes.size() > classes.size()) {
    throw FormatError(predictions_file.string() + ": class " +
                      std::to_string(table.classes.size() - 1) + " is beyond the " +
                      std::to_string(classes.size()) + " classes of " + results_file.string());
  }
  return classes;
}

RunPictures write_run_pictures(const fs::path& run_dir, const RunPicturesOptions& options) {
  require_directory(run_dir);
  RunPictures done;
  const run::RunDirectory dir(run_dir);
  const fs::path metrics_file = dir.metrics();
  if (!is_file(metrics_file)) {
    done.notes.push_back("curves.png: no metrics.csv in " + run_dir.string());
  } else if (const auto rows = run::read_metrics(metrics_file); rows.empty()) {
    done.notes.push_back("curves.png: metrics.csv has no epoch yet");
  } else {
    done.written.push_back(dir.curves());
    write_file_atomically(done.written.back(), draw_curves(rows));
  }

  const fs::path predictions_file = dir.predictions();
  if (!is_file(predictions_file)) {
    done.notes.push_back(
        "confusion.png, samples.png: no predictions.csv (test evaluation pending)");
    return done;
  }
  const auto classes = run_classes(run_dir);
  const auto predictions = run::read_predictions(predictions_file);
  if (predictions.empty()) {
    done.notes.push_back("confusion.png, samples.png: predictions.csv has no row");
    return done;
  }
  eval::Confusion confusion(static_cast<int64_t>(classes.size()));
  for (const auto& p : predictions) confusion.add(p.label, p.predicted);
  done.written.push_back(dir.confusion());
  write_file_atomically(done.written.back(), draw_confusion(confusion, classes));

  std::vector<Sample> samples;
  for (const size_t i : choose_samples(predictions, options.samples().count())) {
    const auto& p = predictions[i];
    Sample sample;
    sample.label = p.label;
    sample.predicted = p.predicted;
    sample.probability = p.probability;
    if (options.sample_image()) {
      sample.image = options.sample_image()(p);
    } else if (p.file.empty()) {
      done.notes.push_back("samples.png: the test images are not files (sample " +
                           std::to_string(p.index) + " has none); drawn at the end of training");
      return done;
    } else {
      try {
        sample.image = transforms::decode_image(p.file);
      } catch (const Error& e) {
        done.notes.push_back(std::string("samples.png: ") + e.what());
        return done;
      }
    }
    samples.push_back(std::move(sample));
  }
  done.written.push_back(dir.samples());
  write_file_atomically(done.written.back(), draw_samples(samples, classes, options.samples()));
  return done;
}

fs::path write_report(const fs::path& run_dir) {
  require_directory(run_dir);
  const run::RunDirectory dir(run_dir);
  const fs::path config_file = dir.config();
  const fs::path metrics_file = dir.metrics();
  const fs::path results_file = dir.results();
  const fs::path predictions_file = dir.predictions();
  if (!is_file(config_file) && !is_file(metrics_file)) {
    throw InvalidArgument("run directory '" + run_dir.string() +
                          "': expected config.json or metrics.csv, found neither");
  }
  const auto rows =
      is_file(metrics_file) ? run::read_metrics(metrics_file) : std::vector<run::EpochMetrics>{};
  const auto results =
      is_file(results_file) ? std::optional(run::read_results(results_file)) : std::nullopt;
  const int64_t best = results ? results->best_epoch : run::best_epoch(rows);
  const std::string name = run_name(run_dir);

  std::string html = detail::page_head("xfer run " + name) + "<h1>Run " + escape(name) + "</h1>\n";
  const std::string epochs =
      std::to_string(rows.size()) + (rows.size() == 1 ? " epoch" : " epochs");
  if (results) {
    html += "<p class=\"status\">Finished: " + epochs + ", best epoch " + std::to_string(best) +
            ", tested.</p>\n";
  } else {
    html += "<p class=\"status pending\">In progress: " + epochs + " so far" +
            (best > 0 ? ", best epoch so far " + std::to_string(best) : std::string()) +
            "; the test evaluation is pending.</p>\n";
  }
  html +=
      "<nav><a href=\"#results\">results</a><a href=\"#curves\">curves</a>"
      "<a href=\"#metrics\">metrics</a><a href=\"#confusion\">confusion</a>"
      "<a href=\"#classes\">classes</a><a href=\"#samples\">samples</a>"
      "<a href=\"#maps\">feature maps</a><a href=\"#config\">configuration</a></nav>\n";

  if (results) {
    html += section(
        "results", "Test results",
        "<dl>\n<dt>best epoch (weights tested)</dt><dd>" + std::to_string(results->best_epoch) +
            "</dd>\n<dt>top-1 accuracy</dt><dd>" + detail::percent_text(results->test.top1, 2) +
            "</dd>\n<dt>top-5 accuracy</dt><dd>" + detail::percent_text(results->test.top5, 2) +
            "</dd>\n<dt>loss</dt><dd>" + fixed(results->test.loss, 4) +
            "</dd>\n<dt>test samples</dt><dd>" + std::to_string(results->test.count) + "</dd>\n" +
            (results->classes.empty()
                 ? std::string()
                 : "<dt>classes</dt><dd>" + std::to_string(results->classes.size()) + "</dd>\n") +
            "</dl>\n");
  } else {
    html += section("results", "Test results",
                    "<p class=\"note\">The test evaluation is pending: it runs once, at the end "
                    "of training (results.json).</p>\n");
  }
  html += section("curves", "Training curves",
                  embed_png(dir.curves(), "training and validation loss and accuracy",
                            rows.empty() ? "No epoch has finished yet."
                                         : "curves.png is not drawn yet (xfer report draws it)."));
  html += section("metrics", "Metrics per epoch",
                  rows.empty() ? "<p class=\"note\">No epoch has finished yet.</p>\n"
                               : metrics_table(rows, best));
  html += section("confusion", "Confusion matrix (test)",
                  embed_png(dir.confusion(), "confusion matrix of the test split",
                            "No confusion matrix yet: the test evaluation is pending."));

  std::string per_class =
      "<p class=\"note\">No predictions yet: the test evaluation is "
      "pending.</p>\n";
  if (is_file(predictions_file)) {
    const auto classes = run_classes(run_dir);
    const auto predictions = run::read_predictions(predictions_file);
    if (!predictions.empty()) {
      eval::Confusion confusion(static_cast<int64_t>(classes.size()));
      for (const auto& p : predictions) confusion.add(p.label, p.predicted);
      per_class = classes_table(confusion, classes);
    } else {
      per_class = "<p class=\"note\">predictions.csv has no row.</p>\n";
    }
  }
  html += section("classes", "Precision and recall per class (test)", per_class);
  html += section("samples", "Test samples",
                  embed_png(dir.samples(), "test images with true and predicted labels",
                            "No samples picture (drawn at the end of training)."));

  std::vector<fs::path> maps;
  std::error_code error;
  if (fs::is_directory(dir.maps(), error)) {
    for (const auto& entry : fs::directory_iterator(dir.maps(), error)) {
      if (entry.is_regular_file(error) && entry.path().extension() == ".png") {
        maps.push_back(entry.path());
      }
    }
  }
  std::sort(maps.begin(), maps.end());
  std::string figures;
  for (const auto& map : maps) {
    const std::string layer = map.stem().string();
    figures += "<figure>\n<figcaption>" + escape(layer) + "</figcaption>\n" +
               embed_png(map, "feature maps of " + layer, "") + "</figure>\n";
  }
  html += section(
      "maps", "Feature maps",
      figures.empty() ? "<p class=\"note\">No feature maps (maps/*.png) yet.</p>\n" : figures);
  html += section("config", "Configuration",
                  is_file(config_file) ? "<pre>" + escape(pretty_json(config_file)) + "</pre>\n"
                                       : "<p class=\"note\">No config.json.</p>\n");
  html += "<p class=\"note\">Written by xfer from the files of " + escape(run_dir.string()) +
          ".</p>\n" + detail::page_tail();

  const fs::path file = dir.report();
  write_file_atomically(file, html);
  return file;
}

}  // namespace xfer::viz

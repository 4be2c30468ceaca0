#include "xfer/run/files.h"

#include "xfer/core/error.h"
#include "xfer/core/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace xfer::run {
namespace {

const std::vector<std::string> kMetricsHeader = {"epoch",   "train_loss", "train_acc", "val_loss",
                                                 "val_acc", "lr",         "seconds"};
// metrics.csv of a run that keeps a moving average of its weights (--ema).
const std::vector<std::string> kEmaMetricsHeader = {
    "epoch", "train_loss", "train_acc", "val_loss",     "val_acc",
    "lr",    "seconds",    "ema_val_loss", "ema_val_acc"};
const std::vector<std::string> kPredictionsHeader = {
    "index", "label", "label_name", "predicted", "predicted_name", "probability", "file"};
// Bounds the class table a predictions.csv can make us allocate.
constexpr int64_t kMaxClass = (int64_t{1} << 20) - 1;

// A CSV record and the line it starts on (a quoted field may span lines).
struct Record {
  size_t line = 0;
  std::vector<std::string> fields;
};

// RFC 4180: fields separated by commas, records by CRLF or LF; a field holding a comma, a quote or
// a line break is quoted, its quotes doubled.
std::vector<Record> parse_csv(const std::string& text, const std::string& origin) {
  std::vector<Record> records;
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    Record record;
    record.line = line;
    while (true) {
      std::string field;
      if (i < text.size() && text[i] == '"') {
        const size_t opened = line;
        ++i;
        while (true) {
          if (i >= text.size()) {
            throw FormatError(origin + ": line " + std::to_string(opened) +
                              ": quoted field never closed (expected '\"' before the end)");
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          throw FormatError(origin + ": line " + std::to_string(line) +
                            ": expected ',' or the end of the line after a quoted field, found '" +
                            std::string(1, text[i]) + "'");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          field += text[i++];
        }
      }
      record.fields.push_back(std::move(field));
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    if (i < text.size() && text[i] == '\r') ++i;
    if (i < text.size() && text[i] == '\n') {
      ++i;
      ++line;
    }
    // A blank line (one empty field) holds no record.
    if (!(record.fields.size() == 1 && record.fields[0].empty())) records.push_back(record);
  }
  return records;
}

// The shortest text that reads back as the same double.
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string join_header(const std::vector<std::string>& header) {
  std::string out;
  for (const auto& name : header) out += (out.empty() ? "" : ",") + name;
  return out;
}

// Reads the header line and checks every record's width; returns the data records.
std::vector<Record> read_table(const std::filesystem::path& file,
                               const std::vector<std::string>& header) {
  const std::string origin = file.string();
  auto records = parse_csv(read_file(file), origin);
  if (records.empty() || records[0].fields != header) {
    std::string found = records.empty() ? "an empty file" : "'";
    if (!records.empty()) {
      for (size_t k = 0; k < records[0].fields.size(); ++k) {
        found += (k ? "," : "") + records[0].fields[k];
      }
      found += "'";
    }
    throw FormatError(origin + ": line 1: expected the header '" + join_header(header) +
                      "', found " + found);
  }
  records.erase(records.begin());
  for (const auto& record : records) {
    if (record.fields.size() != header.size()) {
      throw FormatError(origin + ": line " + std::to_string(record.line) + ": expected " +
                        std::to_string(header.size()) + " fields, found " +
                        std::to_string(record.fields.size()));
    }
  }
  return records;
}

std::string where(const std::filesystem::path& file, const Record& record, size_t column,
                  const std::vector<std::string>& header) {
  return file.string() + ": line " + std::to_string(record.line) + ", column " +
         std::to_string(column + 1) + " (" + header[column] + ")";
}

double parse_double(const std::filesystem::path& file, const Record& record, size_t column,
                    const std::vector<std::string>& header) {
  const std::string& text = record.fields[column];
  double value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    throw FormatError(where(file, record, column, header) + ": expected a number, found '" + text +
                      "'");
  }
  return value;
}

int64_t parse_integer(const std::filesystem::path& file, const Record& record, size_t column,
                      const std::vector<std::string>& header, int64_t minimum,
                      int64_t maximum = std::numeric_limits<int64_t>::max()) {
  const std::string& text = record.fields[column];
  int64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size() ||
      value < minimum || value > maximum) {
    throw FormatError(where(file, record, column, header) + ": expected an integer in [" +
                      std::to_string(minimum) + ", " + std::to_string(maximum) + "], found '" +
                      text + "'");
  }
  return value;
}

}  // namespace

std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_metrics(const std::filesystem::path& file, const std::vector<EpochMetrics>& rows) {
  const bool ema = std::any_of(rows.begin(), rows.end(),
                               [](const EpochMetrics& row) { return !std::isnan(row.ema_val_acc); });
  std::string text = join_header(ema ? kEmaMetricsHeader : kMetricsHeader) + "\n";
  for (const auto& row : rows) {
    text += std::to_string(row.epoch) + "," + format_number(row.train_loss) + "," +
            format_number(row.train_acc) + "," + format_number(row.val_loss) + "," +
            format_number(row.val_acc) + "," + format_number(row.lr) + "," +
            format_number(row.seconds);
    if (ema) text += "," + format_number(row.ema_val_loss) + "," + format_number(row.ema_val_acc);
    text += "\n";
  }
  write_file_atomically(file, text);
}

std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file) {
  const bool ema = read_file(file).rfind(join_header(kEmaMetricsHeader), 0) == 0;
  const auto& header = ema ? kEmaMetricsHeader : kMetricsHeader;
  std::vector<EpochMetrics> rows;
  for (const auto& record : read_table(file, header)) {
    EpochMetrics row;
    row.epoch = parse_integer(file, record, 0, header, 1);
    row.train_loss = parse_double(file, record, 1, header);
    row.train_acc = parse_double(file, record, 2, header);
    row.val_loss = parse_double(file, record, 3, header);
    row.val_acc = parse_double(file, record, 4, header);
    row.lr = parse_double(file, record, 5, header);
    row.seconds = parse_double(file, record, 6, header);
    if (ema) {
      row.ema_val_loss = parse_double(file, record, 7, header);
      row.ema_val_acc = parse_double(file, record, 8, header);
    }
    rows.push_back(row);
  }
  return rows;
}

namespace {

// A NaN loss loses every tie.
double loss_key(double loss) {
  return std::isnan(loss) ? std::numeric_limits<double>::infinity() : loss;
}

}  // namespace

bool ema_is_better(const EpochMetrics& row) {
  if (std::isnan(row.ema_val_acc)) return false;
  return std::isnan(row.val_acc) || row.ema_val_acc > row.val_acc ||
         (row.ema_val_acc == row.val_acc && loss_key(row.ema_val_loss) < loss_key(row.val_loss));
}

int64_t best_epoch(const std::vector<EpochMetrics>& rows) {
  const EpochMetrics* best = nullptr;
  double best_acc = 0;
  double best_loss = 0;
  for (const auto& row : rows) {
    const bool ema = ema_is_better(row);
    const double acc = ema ? row.ema_val_acc : row.val_acc;
    const double loss = ema ? row.ema_val_loss : row.val_loss;
    if (std::isnan(acc)) continue;
    if (best == nullptr || acc > best_acc || (acc == best_acc && loss_key(loss) < loss_key(best_loss))) {
      best = &row;
      best_acc = acc;
      best_loss = loss;
    }
  }
  return best == nullptr ? 0 : best->epoch;
}

void write_predictions(const std::filesystem::path& file, const std::vector<Prediction>& rows,
                       const std::vector<std::string>& classes) {
  const auto count = static_cast<int64_t>(classes.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    for (const auto& [what, value] : {std::pair<const char*, int64_t>{"label", rows[i].label},
                                      {"predicted class", rows[i].predicted}}) {
      if (value < 0 || value >= count) {
        throw InvalidArgument("predictions: row " + std::to_string(i) + " (index " +
                              std::to_string(rows[i].index) + "): expected a " + what + " in [0, " +
                              std::to_string(count) + "), got " + std::to_string(value));
      }
    }
  }
  std::string text = join_header(kPredictionsHeader) + "\n";
  for (const auto& row : rows) {
    text += std::to_string(row.index) + "," + std::to_string(row.label) + "," +
            csv_field(classes[static_cast<size_t>(row.label)]) + "," +
            std::to_string(row.predicted) + "," +
            csv_field(classes[static_cast<size_t>(row.predicted)]) + "," +
            format_number(row.probability) + "," + csv_field(row.file) + "\n";
  }
  write_file_atomically(file, text);
}

PredictionsTable read_predictions_table(const std::filesystem::path& file) {
  PredictionsTable table;
  // Name of each class as first written, and the line that wrote it.
  std::vector<std::pair<std::string, size_t>> names;
  auto name_class = [&](int64_t k, const std::string& name, const Record& record) {
    const auto at = static_cast<size_t>(k);
    if (names.size() <= at) names.resize(at + 1);
    if (names[at].second == 0) {
      names[at] = {name, record.line};
    } else if (names[at].first != name) {
      throw FormatError(file.string() + ": line " + std::to_string(record.line) + ": class " +
                        std::to_string(k) + " is named '" + name + "', but '" + names[at].first +
                        "' on line " + std::to_string(names[at].second));
    }
  };
  for (const auto& record : read_table(file, kPredictionsHeader)) {
    Prediction row;
    row.index = parse_integer(file, record, 0, kPredictionsHeader, 0);
    row.label = parse_integer(file, record, 1, kPredictionsHeader, 0, kMaxClass);
    row.predicted = parse_integer(file, record, 3, kPredictionsHeader, 0, kMaxClass);
    row.probability = parse_double(file, record, 5, kPredictionsHeader);
    row.file = record.fields[6];
    name_class(row.label, record.fields[2], record);
    name_class(row.predicted, record.fields[4], record);
    table.rows.push_back(std::move(row));
  }
  for (size_t k = 0; k < names.size(); ++k) {
    table.classes.push_back(names[k].second == 0 ? "class " + std::to_string(k) : names[k].first);
  }
  return table;
}

std::vector<Prediction> read_predictions(const std::filesystem::path& file) {
  return read_predictions_table(file).rows;
}

bool RunDirectory::holds_run() const {
  std::error_code error;
  return std::filesystem::exists(config(), error) || std::filesystem::exists(checkpoint(), error);
}

void write_model_description(const std::filesystem::path& file, const ModelDescription& model) {
  const nlohmann::ordered_json json = {{"model", model.model},
                                       {"num_classes", model.num_classes},
                                       {"width_mult", model.width_mult},
                                       {"tf_same_padding", model.tf_same_padding},
                                       {"image_size", model.image_size},
                                       {"transform_input", model.transform_input},
                                       {"head", model.head},
                                       {"dropout", model.dropout},
                                       {"input",
                                        {{"size", model.input.size},
                                         {"resize", model.input.resize},
                                         {"mean", model.input.mean},
                                         {"std", model.input.std},
                                         {"interpolation",
                                          interpolation_name(model.input.interpolation)}}},
                                       {"classes", model.classes}};
  write_file_atomically(file,
                        json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

ModelDescription read_model_description(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  ModelDescription model;
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    model.model = json.at("model").get<std::string>();
    model.num_classes = json.at("num_classes").get<int64_t>();
    model.width_mult = json.at("width_mult").get<double>();
    model.tf_same_padding = json.at("tf_same_padding").get<bool>();
    model.image_size = json.value("image_size", int64_t{0});
    model.transform_input = json.value("transform_input", false);
    model.head = json.at("head").get<std::string>();
    model.dropout = json.at("dropout").get<double>();
    const nlohmann::json& input = json.at("input");
    model.input.size = input.at("size").get<int64_t>();
    model.input.resize = input.at("resize").get<int64_t>();
    model.input.mean = input.at("mean").get<std::array<double, 3>>();
    model.input.std = input.at("std").get<std::array<double, 3>>();
    // Runs made before the field existed resized bilinearly.
    if (input.contains("interpolation")) {
      try {
        model.input.interpolation = parse_interpolation(
            "input.interpolation", input.at("interpolation").get<std::string>());
      } catch (const InvalidArgument& e) {
        throw FormatError(file.string() + ": " + e.what());
      }
    }
    model.classes = json.at("classes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file.string() + ": not a run's model description: " + e.what());
  }
  return model;
}

void write_results(const std::filesystem::path& file, const Results& results) {
  nlohmann::ordered_json json;
  json["best_epoch"] = results.best_epoch;
  json["epochs_trained"] = results.epochs_trained;
  json["stopped_early"] = results.stopped_early;
  json["test"]["loss"] = results.test.loss;
  json["test"]["top1"] = results.test.top1;
  json["test"]["top5"] = results.test.top5;
  json["test"]["count"] = results.test.count;
  json["classes"] = results.classes;
  json["trainable_parameters"] = results.trainable_parameters;
  json["total_parameters"] = results.total_parameters;
  write_file_atomically(file,
                        json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Results read_results(const std::filesystem::path& file) {
  const std::string origin = file.string();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(origin + ": not JSON: " + e.what());
  }
  auto member = [&](const nlohmann::json& object, const std::string& key,
                    const std::string& name) -> const nlohmann::json& {
    if (!object.is_object() || !object.contains(key)) {
      throw FormatError(origin + ": expected a key '" + name + "', found none");
    }
    return object[key];
  };
  auto number = [&](const nlohmann::json& value, const std::string& name) {
    if (!value.is_number()) {
      throw FormatError(origin + ": '" + name + "': expected a number, found " + value.dump());
    }
    return value.get<double>();
  };
  auto integer = [&](const nlohmann::json& value, const std::string& name) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0) {
      throw FormatError(origin + ": '" + name + "': expected an integer of at least 0, found " +
                        value.dump());
    }
    return value.get<int64_t>();
  };
  Results results;
  results.best_epoch = integer(member(json, "best_epoch", "best_epoch"), "best_epoch");
  const auto& test = member(json, "test", "test");
  results.test.loss = number(member(test, "loss", "test.loss"), "test.loss");
  results.test.top1 = number(member(test, "top1", "test.top1"), "test.top1");
  results.test.top5 = number(member(test, "top5", "test.top5"), "test.top5");
  results.test.count = integer(member(test, "count", "test.count"), "test.count");
  for (const auto& [key, field] : {std::pair{"epochs_trained", &Results::epochs_trained},
                                   std::pair{"trainable_parameters", &Results::trainable_parameters},
                                   std::pair{"total_parameters", &Results::total_parameters}}) {
    if (json.contains(key)) results.*field = integer(json[key], key);
  }
  if (json.contains("stopped_early")) {
    if (!json["stopped_early"].is_boolean()) {
      throw FormatError(origin + ": 'stopped_early': expected true or false, found " +
                        json["stopped_early"].dump());
    }
    results.stopped_early = json["stopped_early"].get<bool>();
  }
  if (json.contains("classes")) {
    const auto& classes = json["classes"];
    if (!classes.is_array()) {
      throw FormatError(origin + ": 'classes': expected an array of names, found " +
                        classes.dump());
    }
    for (size_t k = 0; k < classes.size(); ++k) {
      if (!classes[k].is_string()) {
        throw FormatError(origin + ": 'classes[" + std::to_string(k) +
                          "]': expected a name, found " + classes[k].dump());
      }
      results.classes.push_back(classes[k].get<std::string>());
    }
  }
  return results;
}

}  // namespace xfer::run

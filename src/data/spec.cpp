#include "xfer/data/spec.h"

#include "xfer/core/error.h"

#include <array>
#include <utility>

namespace xfer::data {
namespace {

constexpr const char* kForms =
    "cifar10:DIR, cifar100:DIR, fashion-mnist[:DIR], mnist:DIR or folder:DIR";

constexpr std::array<std::pair<const char*, DatasetFormat>, 5> kFormats{{
    {"cifar10", DatasetFormat::kCifar10},
    {"cifar100", DatasetFormat::kCifar100},
    {"fashion-mnist", DatasetFormat::kFashionMnist},
    {"mnist", DatasetFormat::kMnist},
    {"folder", DatasetFormat::kFolder},
}};

}  // namespace

DatasetSpec parse_dataset_spec(const std::string& text) {
  const auto colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string dir = colon == std::string::npos ? "" : text.substr(colon + 1);
  for (const auto& [known, format] : kFormats) {
    if (name != known) continue;
    if (format == DatasetFormat::kFashionMnist && dir.empty()) {
      return {format, kFashionMnistDefaultDir};
    }
    if (dir.empty()) {
      throw InvalidArgument(std::string("dataset spec: ") + known + " needs a directory (" + known +
                            ":DIR), got '" + text + "'");
    }
    return {format, dir};
  }
  throw InvalidArgument(std::string("dataset spec: expected one of ") + kForms + ", got '" + text +
                        "'");
}

std::string format_name(DatasetFormat format) {
  for (const auto& [known, value] : kFormats) {
    if (value == format) return known;
  }
  return "folder";
}

std::string to_string(const DatasetSpec& spec) {
  return format_name(spec.format) + ":" + spec.dir.string();
}

}  // namespace xfer::data

#include "xfer/data/summary.h"

namespace xfer::data {

DatasetSummary summarize(const Splits& splits, const std::string& spec) {
  DatasetSummary summary;
  summary.spec = spec;
  const auto& names = splits.train.classes();
  const auto train = splits.train.class_counts();
  const auto val = splits.val.class_counts();
  const auto test = splits.test.class_counts();
  const auto at = [](const std::vector<int64_t>& counts, size_t i) {
    return i < counts.size() ? counts[i] : int64_t{0};
  };
  for (size_t i = 0; i < names.size(); ++i) {
    summary.classes.push_back({names[i], at(train, i), at(val, i), at(test, i)});
  }
  summary.train = splits.train.size();
  summary.val = splits.val.size();
  summary.test = splits.test.size();
  summary.min_size = splits.min_size;
  summary.max_size = splits.max_size;
  summary.bad_files = splits.bad_files;
  return summary;
}

DatasetSummary summarize(const DatasetSpec& spec, DataOptions options) {
  options.skip_bad(true);
  return summarize(load_splits(spec, options), to_string(spec));
}

}  // namespace xfer::data

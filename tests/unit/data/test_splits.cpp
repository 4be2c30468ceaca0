// Splits: sizes, stratification, determinism, per-class subsets, and option errors.

#include "fixtures.h"
#include "xfer/data/dataset.h"
#include "xfer/data/splits.h"

#include <gtest/gtest.h>

#include <set>

namespace xfer::data {
namespace {

// `per_class[c]` samples of class c, interleaved, 1×1 grey pixels holding the sample number.
Dataset labelled(const std::vector<int64_t>& per_class) {
  std::vector<int64_t> labels;
  std::vector<int64_t> remaining = per_class;
  for (bool any = true; any;) {
    any = false;
    for (size_t c = 0; c < remaining.size(); ++c) {
      if (remaining[c]-- > 0) {
        labels.push_back(static_cast<int64_t>(c));
        any = true;
      }
    }
  }
  std::vector<uint8_t> pixels(labels.size());
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  std::vector<std::string> classes;
  for (size_t c = 0; c < per_class.size(); ++c) classes.push_back("c" + std::to_string(c));
  return Dataset::from_memory("test", classes, labels, pixels, 1, 1, 1);
}

std::vector<int64_t> sources(const Dataset& d) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < d.size(); ++i) out.push_back(d.source_index(i));
  return out;
}

TEST(StratifiedSplit, HoldsOutTheFractionOfEveryClass) {
  const Dataset data = labelled({50, 30, 20, 7, 1});
  const auto [train, val] = stratified_split(data, 0.1, 5);
  EXPECT_EQ(val.class_counts(), (std::vector<int64_t>{5, 3, 2, 1, 0}));
  EXPECT_EQ(train.class_counts(), (std::vector<int64_t>{45, 27, 18, 6, 1}));
  // Disjoint, together everything, each in dataset order.
  std::set<int64_t> all;
  for (const auto i : sources(train)) all.insert(i);
  for (const auto i : sources(val)) EXPECT_TRUE(all.insert(i).second) << i;
  EXPECT_EQ(all.size(), 108u);
  const auto t = sources(train);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  // A split keeps the samples' labels and pixels.
  EXPECT_EQ(val.image(0).pixels[0], static_cast<uint8_t>(val.source_index(0)));
  EXPECT_EQ(val.label(0), data.label(val.source_index(0)));
}

TEST(StratifiedSplit, SameSeedSameSplitOtherSeedOther) {
  const Dataset data = labelled({40, 40});
  EXPECT_EQ(sources(stratified_split(data, 0.25, 1).second),
            sources(stratified_split(data, 0.25, 1).second));
  EXPECT_NE(sources(stratified_split(data, 0.25, 1).second),
            sources(stratified_split(data, 0.25, 2).second));
  EXPECT_TRUE(stratified_split(data, 0.0, 1).second.empty());
  EXPECT_THROW_WITH(stratified_split(data, 1.0, 1), InvalidArgument,
                    "val_fraction: expected a fraction in [0, 1), got 1");
}

TEST(PerClassSubset, CapsEveryClassDeterministically) {
  const Dataset data = labelled({10, 3, 6});
  const Dataset sub = per_class_subset(data, 4, 9);
  EXPECT_EQ(sub.class_counts(), (std::vector<int64_t>{4, 3, 4}));
  EXPECT_EQ(sources(sub), sources(per_class_subset(data, 4, 9)));
  EXPECT_THROW_WITH(per_class_subset(data, 0, 9), InvalidArgument,
                    "per_class: expected at least 1 sample a class, got 0");
}

TEST(MakeSplits, PerClassThenValidationHeldOut) {
  DatasetParts parts;
  parts.train = labelled({100, 100});
  parts.test = labelled({30, 30});
  const Splits splits = make_splits(parts, DataOptions().per_class(20).val_fraction(0.2).seed(3));
  EXPECT_EQ(splits.train.class_counts(), (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(splits.val.class_counts(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(splits.test.class_counts(), (std::vector<int64_t>{20, 20}));
  EXPECT_THROW_WITH(make_splits(parts, DataOptions().per_class(-1)), InvalidArgument,
                    "per_class: expected 0 (all) or a count >= 1, got -1");
}

TEST(Dataset, FactoriesAndAccessorsCheckTheirArguments) {
  EXPECT_THROW_WITH(Dataset::from_memory("x", {"a"}, {0, 1}, std::vector<uint8_t>(2), 1, 1, 1),
                    InvalidArgument, "x: label 1 of sample 1 out of range (expected 0..0)");
  EXPECT_THROW_WITH(Dataset::from_memory("x", {"a"}, {0}, std::vector<uint8_t>(5), 1, 1, 1),
                    InvalidArgument, "expected 1 pixel bytes for 1 images, got 5");
  EXPECT_THROW_WITH(Dataset::from_files("x", {"a"}, {0}, {}), InvalidArgument,
                    "expected one label per file, got 1 labels for 0 files");
  const Dataset data = labelled({2});
  EXPECT_THROW_WITH(data.label(2), InvalidArgument, "test: sample 2 out of range (expected 0..1)");
  EXPECT_THROW_WITH(data.coarse_label(0), InvalidArgument, "with coarse labels");
  EXPECT_THROW_WITH(data.subset({5}), InvalidArgument, "sample 5 out of range");
}

}  // namespace
}  // namespace xfer::data

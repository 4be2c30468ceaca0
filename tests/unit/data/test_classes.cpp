// Cutting a task out of a dataset: a subset of its classes, relabelled, and the test split's own
// per-class cap.

#include "xfer/core/error.h"
#include "xfer/data/splits.h"

#include <gtest/gtest.h>

namespace xfer::data {
namespace {

// Six 1×1 grey images: labels 0 1 2 0 1 2, pixel value = position.
Dataset six() {
  return Dataset::from_memory("toy", {"a", "b", "c"}, {0, 1, 2, 0, 1, 2}, {0, 1, 2, 3, 4, 5}, 1, 1,
                              1);
}

TEST(SelectClasses, KeepsTheSamplesOfTheClassesRelabelledInTheGivenOrder) {
  const Dataset picked = six().select_classes({2, 0});
  EXPECT_EQ(picked.classes(), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(picked.labels(), (std::vector<int64_t>{1, 0, 1, 0}));
  std::vector<int> pixels;
  for (int64_t i = 0; i < picked.size(); ++i) pixels.push_back(picked.image(i).pixels[0]);
  EXPECT_EQ(pixels, (std::vector<int>{0, 2, 3, 5}));
}

TEST(SelectClasses, RefusesEmptyRepeatedAndUnknownClasses) {
  EXPECT_THROW(six().select_classes({}), InvalidArgument);
  EXPECT_THROW(six().select_classes({1, 1}), InvalidArgument);
  EXPECT_THROW(six().select_classes({3}), InvalidArgument);
}

TEST(ClassLabels, AcceptNamesAndNumbersAndNameTheKnownOnes) {
  EXPECT_EQ(class_labels(six(), {"c", "0"}), (std::vector<int64_t>{2, 0}));
  try {
    class_labels(six(), {"d"});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown class 'd'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 'c'"), std::string::npos) << e.what();
  }
}

TEST(MakeSplits, ClassesThenPerClassWithTheTestSplitsOwnCap) {
  DatasetParts parts;
  parts.train = six();
  parts.test = six();
  const auto splits = make_splits(
      parts, DataOptions().classes({"b", "c"}).per_class(1).test_per_class(0).val_fraction(0.5));
  EXPECT_EQ(splits.train.classes(), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(splits.train.size() + splits.val.size(), 2);
  EXPECT_EQ(splits.test.size(), 4);  // test_per_class 0: all of the kept classes
  const auto capped = make_splits(parts, DataOptions().classes({"b", "c"}).per_class(1));
  EXPECT_EQ(capped.test.size(), 2);  // -1: as per_class
}

}  // namespace
}  // namespace xfer::data

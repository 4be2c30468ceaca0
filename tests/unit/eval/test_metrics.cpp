// Confusion and Evaluator against values computed by hand.

#include "xfer/core/error.h"
#include "xfer/eval/metrics.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <typename Call>
std::string invalid_argument(Call call) {
  try {
    call();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InvalidArgument";
  return "";
}

// Three classes; class 2 is never predicted.
//            predicted 0  1  2
//   label 0:           2  1  0
//   label 1:           0  2  0
//   label 2:           1  1  0
eval::Confusion three_classes() {
  eval::Confusion confusion(3);
  for (const auto& [label, predicted] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1}, {2, 0}, {2, 1}}) {
    confusion.add(label, predicted);
  }
  return confusion;
}

TEST(Confusion, CountsPrecisionAndRecallByHand) {
  const auto confusion = three_classes();
  EXPECT_EQ(confusion.num_classes(), 3);
  EXPECT_EQ(confusion.total(), 7);
  EXPECT_EQ(confusion.count(0, 1), 1);
  EXPECT_EQ(confusion.count(2, 2), 0);
  EXPECT_EQ(confusion.support(0), 3);
  EXPECT_EQ(confusion.support(2), 2);
  EXPECT_DOUBLE_EQ(confusion.accuracy(), 4.0 / 7);
  EXPECT_DOUBLE_EQ(confusion.precision(0), 2.0 / 3);  // column 0: 2 right of 3
  EXPECT_DOUBLE_EQ(confusion.precision(1), 2.0 / 4);
  EXPECT_EQ(confusion.precision(2), 0.0);  // never predicted
  EXPECT_DOUBLE_EQ(confusion.recall(0), 2.0 / 3);
  EXPECT_DOUBLE_EQ(confusion.recall(1), 1.0);
  EXPECT_EQ(confusion.recall(2), 0.0);
  const auto matrix = confusion.matrix();
  EXPECT_EQ(matrix.scalar_type(), torch::kLong);
  EXPECT_TRUE(matrix.equal(torch::tensor({2, 1, 0, 0, 2, 0, 1, 1, 0}, torch::kLong).view({3, 3})));
}

TEST(Confusion, AnEmptyMatrixHasZeroAccuracyAndRecall) {
  eval::Confusion confusion(2);
  EXPECT_EQ(confusion.accuracy(), 0.0);
  EXPECT_EQ(confusion.recall(1), 0.0);
  EXPECT_EQ(confusion.precision(1), 0.0);
}

TEST(Confusion, RefusesBadSizesAndClasses) {
  EXPECT_TRUE(contains(invalid_argument([] { eval::Confusion(0); }), "got 0"));
  eval::Confusion confusion(2);
  EXPECT_TRUE(contains(invalid_argument([&] { confusion.add(2, 0); }),
                       "expected a label in [0, 2), got 2"));
  EXPECT_TRUE(contains(invalid_argument([&] { confusion.add(0, -1); }),
                       "expected a predicted class in [0, 2), got -1"));
  EXPECT_EQ(confusion.total(), 0);
}

TEST(Evaluator, LossTop1AndTop5WithFewerThanFiveClasses) {
  eval::Evaluator evaluator(3);
  // Row 0: logits (ln 1, ln 2, ln 1), label 1: p = 2/4, right.
  // Row 1: logits (0.5, 0, 0), label 2: p = 1/(e^0.5 + 2), wrong (predicted 0).
  // Row 2: logits (3, 1, 2), label 1: p = e/(e^3 + e + e^2), wrong (predicted 0).
  const auto logits = torch::tensor({0.0, std::log(2.0), 0.0, 0.5, 0.0, 0.0, 3.0, 1.0, 2.0})
                          .view({3, 3})
                          .to(torch::kFloat32);
  evaluator.add(logits, torch::tensor({1, 2, 1}, torch::kLong));
  const auto result = evaluator.result();
  const double e = std::exp(1.0);
  const double expected_loss =
      (-std::log(0.5) - std::log(1 / (std::sqrt(e) + 2)) - std::log(e / (e * e * e + e + e * e))) /
      3;
  EXPECT_EQ(result.count, 3);
  // float32 logits against the closed form in double: ~1e-7 of the loss apart.
  EXPECT_NEAR(result.loss, expected_loss, 1e-6 * expected_loss);
  EXPECT_DOUBLE_EQ(result.top1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(result.top5, 1.0);  // 3 classes: every label is in the top 5
  EXPECT_EQ(result.confusion.count(1, 1), 1);
  EXPECT_EQ(result.confusion.count(2, 0), 1);
  EXPECT_EQ(result.confusion.count(1, 0), 1);
}

TEST(Evaluator, Top5LeavesOutTheSixthClassAndAccumulatesBatches) {
  eval::Evaluator evaluator(6);
  const auto logits = torch::tensor({{6.0, 5.0, 4.0, 3.0, 2.0, 1.0}}, torch::kFloat64);
  evaluator.add(logits, torch::tensor({5}, torch::kInt32));  // lowest logit: outside the top 5
  evaluator.add(logits, torch::tensor({4}, torch::kLong));   // fifth: inside
  evaluator.add(logits.narrow(0, 0, 0), torch::zeros({0}, torch::kLong));  // an empty batch
  const auto result = evaluator.result();
  EXPECT_EQ(result.count, 2);
  EXPECT_EQ(result.top1, 0.0);
  EXPECT_DOUBLE_EQ(result.top5, 0.5);
  EXPECT_EQ(result.confusion.count(5, 0), 1);
}

TEST(Evaluator, NothingSeenIsAllZero) {
  const auto result = eval::Evaluator(4).result();
  EXPECT_EQ(result.count, 0);
  EXPECT_EQ(result.loss, 0.0);
  EXPECT_EQ(result.top1, 0.0);
  EXPECT_EQ(result.confusion.num_classes(), 4);
}

TEST(Evaluator, RefusesBadShapesTypesAndLabels) {
  EXPECT_TRUE(contains(invalid_argument([] { eval::Evaluator(0); }),
                       "evaluator: expected at least 1 class, got 0"));
  eval::Evaluator evaluator(3);
  const auto labels = torch::tensor({0, 1}, torch::kLong);
  EXPECT_TRUE(contains(invalid_argument([&] {
                         evaluator.add(torch::zeros({2, 4}), labels);
                       }),
                       "expected logits [N, 3] floating point, got [2, 4]"));
  EXPECT_TRUE(
      contains(invalid_argument([&] { evaluator.add(torch::zeros({6}), labels); }), "got [6]"));
  EXPECT_TRUE(contains(invalid_argument([&] {
                         evaluator.add(torch::zeros({2, 3}, torch::kLong), labels);
                       }),
                       "floating point, got [2, 3] Long"));
  EXPECT_TRUE(contains(invalid_argument([&] {
                         evaluator.add(torch::zeros({2, 3}), torch::tensor({0}, torch::kLong));
                       }),
                       "expected labels [2] of an integer type, got [1]"));
  EXPECT_TRUE(contains(invalid_argument([&] {
                         evaluator.add(torch::zeros({2, 3}), torch::zeros({2}));
                       }),
                       "got [2] Float"));
  EXPECT_TRUE(contains(invalid_argument([&] {
                         evaluator.add(torch::zeros({2, 3}), torch::tensor({0, 3}, torch::kLong));
                       }),
                       "expected labels in [0, 3), got 3"));
  EXPECT_TRUE(contains(invalid_argument([&] { evaluator.add(torch::Tensor(), labels); }),
                       "an undefined tensor"));
  EXPECT_EQ(evaluator.result().count, 0);  // nothing of a refused batch was counted
}

}  // namespace
}  // namespace xfer::testing

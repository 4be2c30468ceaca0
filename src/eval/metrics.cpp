#include "xfer/eval/metrics.h"

#include "xfer/core/error.h"
#include "xfer/core/shape.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

namespace xfer::eval {
namespace {

void check_classes(const char* what, int64_t num_classes) {
  if (num_classes < 1) {
    throw InvalidArgument(std::string(what) + ": expected at least 1 class, got " +
                          std::to_string(num_classes));
  }
}

}  // namespace

Confusion::Confusion(int64_t num_classes) : n_(num_classes) {
  check_classes("confusion matrix", num_classes);
  counts_.assign(static_cast<size_t>(n_ * n_), 0);
}

void Confusion::add(int64_t label, int64_t predicted) {
  for (const auto& [what, value] :
       {std::pair<const char*, int64_t>{"label", label}, {"predicted class", predicted}}) {
    if (value < 0 || value >= n_) {
      throw InvalidArgument(std::string("confusion matrix: expected a ") + what + " in [0, " +
                            std::to_string(n_) + "), got " + std::to_string(value));
    }
  }
  ++counts_[static_cast<size_t>(label * n_ + predicted)];
  ++total_;
}

int64_t Confusion::support(int64_t label) const {
  int64_t sum = 0;
  for (int64_t p = 0; p < n_; ++p) sum += count(label, p);
  return sum;
}

double Confusion::accuracy() const {
  if (total_ == 0) return 0;
  int64_t right = 0;
  for (int64_t c = 0; c < n_; ++c) right += count(c, c);
  return static_cast<double>(right) / static_cast<double>(total_);
}

double Confusion::precision(int64_t c) const {
  int64_t predicted = 0;
  for (int64_t label = 0; label < n_; ++label) predicted += count(label, c);
  return predicted == 0 ? 0 : static_cast<double>(count(c, c)) / static_cast<double>(predicted);
}

double Confusion::recall(int64_t c) const {
  const int64_t samples = support(c);
  return samples == 0 ? 0 : static_cast<double>(count(c, c)) / static_cast<double>(samples);
}

at::Tensor Confusion::matrix() const { return at::tensor(counts_, at::kLong).reshape({n_, n_}); }

Evaluator::Evaluator(int64_t num_classes)
    : num_classes_(num_classes),
      confusion_((check_classes("evaluator", num_classes), num_classes)) {}

void Evaluator::add(const at::Tensor& logits, const at::Tensor& labels) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) != num_classes_ ||
      !at::isFloatingType(logits.scalar_type())) {
    throw InvalidArgument("evaluator: expected logits [N, " + std::to_string(num_classes_) +
                          "] floating point, got " +
                          (logits.defined() ? shape_text(logits.sizes()) + " " +
                                                  std::string(c10::toString(logits.scalar_type()))
                                            : std::string("an undefined tensor")));
  }
  const int64_t n = logits.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != n ||
      !at::isIntegralType(labels.scalar_type(), /*includeBool=*/false)) {
    throw InvalidArgument(
        "evaluator: expected labels [" + std::to_string(n) + "] of an integer type, got " +
        (labels.defined()
             ? shape_text(labels.sizes()) + " " + std::string(c10::toString(labels.scalar_type()))
             : std::string("an undefined tensor")));
  }
  if (n == 0) return;
  const auto targets = labels.detach().to(at::kCPU, at::kLong).contiguous();
  const int64_t lowest = targets.min().item<int64_t>();
  const int64_t highest = targets.max().item<int64_t>();
  if (lowest < 0 || highest >= num_classes_) {
    throw InvalidArgument("evaluator: expected labels in [0, " + std::to_string(num_classes_) +
                          "), got " + std::to_string(lowest < 0 ? lowest : highest));
  }
  const auto scores = logits.detach().to(at::kCPU, at::kDouble);
  loss_sum_ += -at::log_softmax(scores, 1).gather(1, targets.unsqueeze(1)).sum().item<double>();
  const int64_t k = std::min<int64_t>(5, num_classes_);
  const auto top = std::get<1>(scores.topk(k, 1));  // [N, k], best first
  const auto hits = top.eq(targets.unsqueeze(1));
  top1_ += hits.select(1, 0).sum().item<int64_t>();
  top5_ += hits.any(1).sum().item<int64_t>();
  const auto best = top.select(1, 0).contiguous();
  const int64_t* label = targets.data_ptr<int64_t>();
  const int64_t* predicted = best.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) confusion_.add(label[i], predicted[i]);
}

Evaluation Evaluator::result() const {
  Evaluation out;
  out.count = confusion_.total();
  if (out.count > 0) {
    const auto count = static_cast<double>(out.count);
    out.loss = loss_sum_ / count;
    out.top1 = static_cast<double>(top1_) / count;
    out.top5 = static_cast<double>(top5_) / count;
  }
  out.confusion = confusion_;
  return out;
}

}  // namespace xfer::eval

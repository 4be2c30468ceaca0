#include "xfer/train/lr_find.h"

#include "xfer/core/error.h"

#include <algorithm>
#include <sstream>
#include <string>

namespace xfer::train {
namespace {

std::string text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

size_t lr_valley(const std::vector<double>& losses, int64_t iterations) {
  if (losses.empty()) throw InvalidArgument("lr_valley: expected at least one loss, got none");
  // fastai trims `recorder.losses[num_it // 10 : -5]`.
  size_t begin = static_cast<size_t>(std::max<int64_t>(iterations, 0) / 10);
  size_t end = losses.size() >= 5 ? losses.size() - 5 : 0;
  if (end < begin + 2) {
    begin = 0;
    end = losses.size();
  }
  const int64_t n = static_cast<int64_t>(end - begin);
  const auto loss = [&](int64_t i) { return losses[begin + static_cast<size_t>(i)]; };
  // lds[i]: the longest strictly decreasing subsequence ending at point i. As in fastai,
  // max_start may be -1 (a run from the first point); the index is kept within the points.
  std::vector<int64_t> lds(static_cast<size_t>(n), 1);
  int64_t max_start = 0;
  int64_t max_end = 0;
  for (int64_t i = 1; i < n; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      auto& at_i = lds[static_cast<size_t>(i)];
      if (loss(i) < loss(j) && at_i < lds[static_cast<size_t>(j)] + 1) {
        at_i = lds[static_cast<size_t>(j)] + 1;
      }
      if (lds[static_cast<size_t>(max_end)] < at_i) {
        max_end = i;
        max_start = max_end - at_i;
      }
    }
  }
  const double sections = static_cast<double>(max_end - max_start) / 3;
  const int64_t index =
      max_start + static_cast<int64_t>(sections) + static_cast<int64_t>(sections / 2);
  return begin + static_cast<size_t>(std::clamp<int64_t>(index, 0, n - 1));
}

void validate(const LrFindOptions& o) {
  if (!(o.start_lr() > 0)) {
    throw InvalidArgument("start_lr: expected a rate > 0, got " + text(o.start_lr()));
  }
  if (!(o.end_lr() > o.start_lr())) {
    throw InvalidArgument("end_lr: expected a rate above start_lr (" + text(o.start_lr()) +
                          "), got " + text(o.end_lr()));
  }
  if (o.iterations() < 2) {
    throw InvalidArgument("iterations: expected at least 2, got " + std::to_string(o.iterations()));
  }
}

}  // namespace xfer::train

#include "xfer/viz/curves.h"

#include "detail/canvas.h"
#include "detail/format.h"
#include "detail/plot.h"
#include "xfer/core/error.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace xfer::viz {
namespace {

constexpr int kWidth = 1200;
constexpr int kHeight = 480;

// matplotlib's first two default colours, and the marker of the best epoch.
const detail::Colour kTrain = detail::hex(0x1f77b4);
const detail::Colour kValidation = detail::hex(0xff7f0e);
const detail::Colour kBest = detail::hex(0x2ca02c);

struct Series {
  std::string name;
  detail::Colour colour;
  std::function<double(const run::EpochMetrics&)> value;
};

// One plot: both series against the epoch, in `area` of the canvas.
void plot(detail::Canvas& canvas, const detail::Area& area, const std::string& title,
          const std::string& y_label, const std::vector<run::EpochMetrics>& rows,
          const std::vector<Series>& series, int64_t best, bool percent) {
  std::vector<double> xs;
  std::vector<double> ys;
  for (const auto& row : rows) {
    xs.push_back(static_cast<double>(row.epoch));
    for (const auto& s : series) ys.push_back(s.value(row));
  }
  auto x_range = detail::padded_range(xs, 0.03);
  // At least one epoch of room on each side of a single epoch; whole-epoch ticks.
  if (x_range.hi - x_range.lo < 2) {
    const double middle = (x_range.hi + x_range.lo) / 2;
    x_range = {middle - 1, middle + 1};
  }
  // Losses stay above 0 and accuracies within 0..100 %, when the values do.
  const auto y_range =
      percent ? detail::padded_range(ys, 0.06, 0, 100) : detail::padded_range(ys, 0.06, 0);
  detail::Axes axes(area, x_range, y_range);
  axes.draw_frame(canvas, title, "epoch", y_label, /*integer_x=*/true);

  if (best > 0) {
    const double x = axes.x(static_cast<double>(best));
    canvas.line(x, area.top, x, area.top + area.height, kBest, 1.5, 6);
  }
  const bool markers = rows.size() <= 40;
  for (const auto& s : series) {
    // A non-finite value breaks the line.
    std::vector<std::pair<double, double>> run;
    auto flush = [&] {
      canvas.polyline(run, s.colour, 2);
      run.clear();
    };
    for (const auto& row : rows) {
      const double v = s.value(row);
      if (!std::isfinite(v)) {
        flush();
        continue;
      }
      const double px = axes.x(static_cast<double>(row.epoch));
      const double py = axes.y(v);
      run.push_back({px, py});
      if (markers || rows.size() == 1) canvas.disc(px, py, 3.5, s.colour);
      if (row.epoch == best) {
        canvas.disc(px, py, 6, kBest);
        canvas.disc(px, py, 3.5, s.colour);
      }
    }
    flush();
  }
}

}  // namespace

std::string draw_curves(const std::vector<run::EpochMetrics>& rows) {
  if (rows.empty()) {
    throw InvalidArgument("training curves: expected at least one epoch of metrics, got none");
  }
  const int64_t best = run::best_epoch(rows);
  detail::Canvas canvas(kWidth, kHeight);

  detail::TextStyle title;
  title.size = 20;
  title.bold = true;
  std::string heading =
      "Training curves, " + std::to_string(rows.size()) + (rows.size() == 1 ? " epoch" : " epochs");
  const auto best_row = std::find_if(rows.begin(), rows.end(),
                                     [&](const run::EpochMetrics& r) { return r.epoch == best; });
  if (best_row != rows.end()) {
    heading += ": best epoch " + std::to_string(best) + " (validation accuracy " +
               detail::percent_text(best_row->val_acc) + ", loss " +
               detail::number_text(best_row->val_loss) + ")";
  }
  title.max_width = kWidth - 32;
  canvas.text(heading, 16, 12, title);

  // The legend, once for both plots.
  detail::TextStyle legend;
  legend.size = 14;
  double x = 16;
  const double y = 50;
  for (const auto& [name, colour, dashed] :
       {std::tuple<std::string, detail::Colour, bool>{"training", kTrain, false},
        {"validation", kValidation, false},
        {"best epoch (highest validation accuracy)", kBest, true}}) {
    canvas.line(x, y + 9, x + 28, y + 9, colour, dashed ? 1.5 : 2, dashed ? 6 : 0);
    if (!dashed) canvas.disc(x + 14, y + 9, 3.5, colour);
    canvas.text(name, x + 36, y, legend);
    x += 36 + canvas.measure(name, legend).first + 28;
  }

  const std::vector<Series> loss = {
      {"training", kTrain, [](const run::EpochMetrics& r) { return r.train_loss; }},
      {"validation", kValidation, [](const run::EpochMetrics& r) { return r.val_loss; }}};
  const std::vector<Series> accuracy = {
      {"training", kTrain, [](const run::EpochMetrics& r) { return 100 * r.train_acc; }},
      {"validation", kValidation, [](const run::EpochMetrics& r) { return 100 * r.val_acc; }}};
  const double top = 110;
  const double height = kHeight - top - 56;
  plot(canvas, {80, top, kWidth / 2.0 - 80 - 24, height}, "Loss", "cross-entropy loss", rows, loss,
       best, false);
  plot(canvas, {kWidth / 2.0 + 80, top, kWidth / 2.0 - 80 - 24, height}, "Accuracy", "accuracy (%)",
       rows, accuracy, best, true);
  return canvas.png();
}

std::string draw_lr_sweep(const std::vector<double>& lrs, const std::vector<double>& losses,
                          size_t valley) {
  if (lrs.empty() || lrs.size() != losses.size() || valley >= lrs.size()) {
    throw InvalidArgument("learning-rate sweep: expected as many losses as rates (at least one) "
                          "and the suggestion among them, got " +
                          std::to_string(lrs.size()) + " rates, " +
                          std::to_string(losses.size()) + " losses, suggestion " +
                          std::to_string(valley));
  }
  for (const double lr : lrs) {
    if (!(lr > 0) || !std::isfinite(lr)) {
      throw InvalidArgument("learning-rate sweep: expected rates > 0, got " +
                            detail::number_text(lr));
    }
  }
  constexpr int kSweepWidth = 1000;
  constexpr int kSweepHeight = 560;
  detail::Canvas canvas(kSweepWidth, kSweepHeight);
  detail::TextStyle title;
  title.size = 20;
  title.bold = true;
  title.max_width = kSweepWidth - 32;
  canvas.text("Learning-rate finder: " + std::to_string(lrs.size()) +
                  " batches; suggested rate (valley) " + detail::number_text(lrs[valley]),
              16, 12, title);

  double lowest = std::numeric_limits<double>::infinity();
  for (const double v : losses) {
    if (std::isfinite(v)) lowest = std::min(lowest, v);
  }
  std::vector<double> shown;
  for (const double v : losses) {
    if (std::isfinite(v) && v <= 4 * lowest) shown.push_back(v);
  }
  const double lo = *std::min_element(lrs.begin(), lrs.end());
  const double hi = *std::max_element(lrs.begin(), lrs.end());
  const detail::Area area{90, 80, kSweepWidth - 90 - 40, kSweepHeight - 80 - 64};
  const detail::Axes axes(area, {lo / 1.2, hi * 1.2}, detail::padded_range(shown, 0.06),
                          detail::Scale::kLog);
  axes.draw_frame(canvas, "Smoothed training loss against the learning rate",
                  "learning rate (log scale)", "smoothed loss", /*integer_x=*/false);
  const double x = axes.x(lrs[valley]);
  canvas.line(x, area.top, x, area.top + area.height, kBest, 1.5, 6);
  std::vector<std::pair<double, double>> run;
  for (size_t i = 0; i < lrs.size(); ++i) {
    if (!std::isfinite(losses[i]) || losses[i] > 4 * lowest) {
      canvas.polyline(run, kTrain, 2);
      run.clear();
      continue;
    }
    run.push_back({axes.x(lrs[i]), axes.y(losses[i])});
  }
  canvas.polyline(run, kTrain, 2);
  if (std::isfinite(losses[valley]) && losses[valley] <= 4 * lowest) {
    canvas.disc(x, axes.y(losses[valley]), 6, kBest);
  }
  return canvas.png();
}

}  // namespace xfer::viz

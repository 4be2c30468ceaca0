#include "xfer/viz/confusion.h"

#include "detail/canvas.h"
#include "detail/format.h"
#include "xfer/core/error.h"
#include "xfer/viz/colormap.h"

#include <algorithm>
#include <cmath>

namespace xfer::viz {
namespace {

constexpr double kMargin = 16;
constexpr double kHeader = 64;
constexpr double kMaxName = 180;  // widest class name, in pixels, before the ellipsis

}  // namespace

std::string draw_confusion(const eval::Confusion& confusion,
                           const std::vector<std::string>& classes) {
  const int64_t n = confusion.num_classes();
  if (static_cast<int64_t>(classes.size()) != n) {
    throw InvalidArgument("confusion matrix: expected " + std::to_string(n) + " class names, got " +
                          std::to_string(classes.size()));
  }
  const int cell = static_cast<int>(std::clamp<int64_t>(768 / n, 6, 64));
  detail::TextStyle name;
  name.size = std::clamp(cell * 0.5, 9.0, 14.0);
  name.max_width = kMaxName;
  // Every name_step-th name when the cells are thinner than a line of text.
  const int64_t name_step =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((name.size + 2) / cell)));

  // Measure on a scratch canvas: the margins depend on the longest names.
  double name_width = 0;
  double name_height = 0;
  {
    detail::Canvas scratch(1, 1);
    for (int64_t k = 0; k < n; k += name_step) {
      const auto [w, h] = scratch.measure(classes[static_cast<size_t>(k)], name);
      name_width = std::max(name_width, std::min(w, kMaxName));
      name_height = std::max(name_height, h);
    }
  }
  const double matrix = static_cast<double>(cell) * static_cast<double>(n);
  const double left = kMargin + 24 + name_width + 8;
  const double top = kMargin + kHeader;
  const double right_part = 16 + 64 + 24 + 16 + 48;  // recall column, colour bar and its ticks
  const double width = std::max(left + matrix + right_part + kMargin, 640.0);
  const double height = top + matrix + 8 + name_width + 8 + 24 + kMargin;
  if (width > detail::kMaxSide || height > detail::kMaxSide) {
    throw InvalidArgument("confusion matrix: " + std::to_string(n) +
                          " classes make a picture above " + std::to_string(detail::kMaxSide) +
                          " pixels a side");
  }
  detail::Canvas canvas(static_cast<int>(std::ceil(width)), static_cast<int>(std::ceil(height)));

  detail::TextStyle title;
  title.size = 20;
  title.bold = true;
  title.max_width = width - 2 * kMargin;
  canvas.text("Confusion matrix: " + std::to_string(confusion.total()) + " samples, accuracy " +
                  detail::percent_text(confusion.accuracy()),
              kMargin, kMargin, title);
  detail::TextStyle note;
  note.size = 13;
  note.colour = detail::hex(0x5f5f5f);
  note.max_width = title.max_width;
  canvas.text(
      "rows: true class; columns: predicted class; colour: fraction of the row; "
      "numbers: counts",
      kMargin, kMargin + 28, note);

  const auto& colours = viridis();
  detail::TextStyle count;
  count.size = std::clamp(cell * 0.3, 9.0, 16.0);
  count.align = detail::Align::kCenter;
  const bool show_counts = cell >= 26;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t support = confusion.support(r);
    for (int64_t c = 0; c < n; ++c) {
      const int64_t k = confusion.count(r, c);
      const double fraction = support == 0 ? 0.0 : static_cast<double>(k) / support;
      const int index = viridis_index(fraction);
      const double x = left + static_cast<double>(c * cell);
      const double y = top + static_cast<double>(r * cell);
      canvas.fill_rect(x, y, cell, cell, detail::from_rgb(colours[static_cast<size_t>(index)]));
      if (show_counts) {
        count.colour = index < 160 ? detail::hex(0xffffff) : detail::hex(0x1a1a1a);
        count.bold = r == c;
        const std::string text = std::to_string(k);
        const auto [w, h] = canvas.measure(text, count);
        if (w <= cell - 4) canvas.text(text, x + cell / 2.0, y + (cell - h) / 2.0, count);
      }
    }
  }
  canvas.stroke_rect(left - 0.5, top - 0.5, matrix + 1, matrix + 1, detail::hex(0x4d4d4d), 1);

  // Class names: rows on the left, right-aligned; columns below, reading upwards.
  name.align = detail::Align::kRight;
  for (int64_t k = 0; k < n; k += name_step) {
    const auto& text = classes[static_cast<size_t>(k)];
    const double middle = static_cast<double>(k * cell) + cell / 2.0;
    canvas.text(text, left - 8, top + middle - name_height / 2, name);
    canvas.text(text, left + middle - name_height / 2, top + matrix + 8, name, 90);
  }
  detail::TextStyle axis;
  axis.size = 14;
  axis.bold = true;
  axis.align = detail::Align::kCenter;
  canvas.text("true class", kMargin, top + matrix / 2, axis, 90);
  canvas.text("predicted class", left + matrix / 2, top + matrix + 8 + name_width + 8, axis);

  // Recall per row (the diagonal's share of the row).
  const double recall_x = left + matrix + 16;
  detail::TextStyle recall = name;
  recall.align = detail::Align::kLeft;
  recall.max_width = 0;
  canvas.text("recall", recall_x, top - 20, recall);
  for (int64_t k = 0; k < n; k += name_step) {
    const double middle = static_cast<double>(k * cell) + cell / 2.0;
    canvas.text(detail::percent_text(confusion.recall(k)), recall_x, top + middle - name_height / 2,
                recall);
  }

  // The colour bar: 0 at the bottom, the whole row at the top.
  const double bar_x = recall_x + 64 + 24;
  for (int i = 0; i < 256; ++i) {
    const double y0 = top + matrix * (1 - (i + 1) / 256.0);
    canvas.fill_rect(bar_x, y0, 16, matrix / 256.0 + 0.5,
                     detail::from_rgb(colours[static_cast<size_t>(i)]));
  }
  canvas.stroke_rect(bar_x - 0.5, top - 0.5, 17, matrix + 1, detail::hex(0x4d4d4d), 1);
  detail::TextStyle bar_tick;
  bar_tick.size = 12;
  for (const double f : {0.0, 0.5, 1.0}) {
    canvas.text(detail::percent_text(f, 0), bar_x + 22, top + matrix * (1 - f) - 8, bar_tick);
  }
  return canvas.png();
}

}  // namespace xfer::viz

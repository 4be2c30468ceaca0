#include "xfer/viz/samples.h"

#include "detail/canvas.h"
#include "detail/format.h"
#include "xfer/core/error.h"
#include "xfer/transforms/functional.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace xfer::viz {
namespace {

constexpr int64_t kMargin = 16;
constexpr int64_t kGap = 12;
constexpr int64_t kHeader = 56;
constexpr int64_t kCaption = 40;

const detail::Colour kWrong = detail::hex(0xd62728);
const detail::Colour kRight = detail::hex(0x2ca02c);

void check_options(const SamplesOptions& options) {
  if (options.count() < 1 || options.columns() < 1 || options.cell() < 16 ||
      options.cell() > 1024) {
    throw InvalidArgument(
        "samples: expected count and columns of at least 1 and a cell of 16 to "
        "1024 pixels, got count " +
        std::to_string(options.count()) + ", columns " + std::to_string(options.columns()) +
        ", cell " + std::to_string(options.cell()));
  }
}

}  // namespace

std::vector<size_t> choose_samples(const std::vector<run::Prediction>& predictions, int64_t count) {
  if (count < 1) {
    throw InvalidArgument("samples: expected a count of at least 1, got " + std::to_string(count));
  }
  std::vector<size_t> wrong;
  std::map<int64_t, std::vector<size_t>> right_by_class;
  for (size_t i = 0; i < predictions.size(); ++i) {
    if (predictions[i].label != predictions[i].predicted) {
      wrong.push_back(i);
    } else {
      right_by_class[predictions[i].label].push_back(i);
    }
  }
  std::stable_sort(wrong.begin(), wrong.end(), [&](size_t a, size_t b) {
    return predictions[a].probability > predictions[b].probability;
  });
  const auto limit = static_cast<size_t>(count);
  std::vector<size_t> chosen(wrong.begin(), wrong.begin() + std::min(limit, wrong.size()));
  for (size_t round = 0; chosen.size() < limit; ++round) {
    bool any = false;
    for (const auto& [label, positions] : right_by_class) {
      if (round >= positions.size() || chosen.size() >= limit) continue;
      chosen.push_back(positions[round]);
      any = true;
    }
    if (!any) break;
  }
  return chosen;
}

std::string draw_samples(const std::vector<Sample>& samples,
                         const std::vector<std::string>& classes, const SamplesOptions& options) {
  check_options(options);
  if (samples.empty()) throw InvalidArgument("samples: expected at least one sample, got none");
  const auto n_classes = static_cast<int64_t>(classes.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (s.image.empty()) {
      throw InvalidArgument("samples: sample " + std::to_string(i) + " has an empty image");
    }
    if (s.label < 0 || s.label >= n_classes || s.predicted < 0 || s.predicted >= n_classes) {
      throw InvalidArgument("samples: sample " + std::to_string(i) +
                            ": expected a label and a prediction in [0, " +
                            std::to_string(n_classes) + "), got " + std::to_string(s.label) +
                            " and " + std::to_string(s.predicted));
    }
  }
  std::vector<size_t> order(samples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_partition(order.begin(), order.end(),
                        [&](size_t i) { return samples[i].label != samples[i].predicted; });
  const auto wrong = static_cast<int64_t>(std::count_if(
      samples.begin(), samples.end(), [](const Sample& s) { return s.label != s.predicted; }));

  const int64_t cell = options.cell();
  const int64_t cell_w = std::max<int64_t>(cell, 120);  // room for the captions
  const auto total = static_cast<int64_t>(samples.size());
  const int64_t columns = std::min(options.columns(), total);
  const int64_t rows = (total + columns - 1) / columns;
  const int64_t width =
      std::max<int64_t>(2 * kMargin + columns * cell_w + (columns - 1) * kGap, 480);
  const int64_t height = kMargin + kHeader + rows * (cell + kCaption) + (rows - 1) * kGap + kMargin;
  if (width > detail::kMaxSide || height > detail::kMaxSide) {
    throw InvalidArgument("samples: " + std::to_string(total) + " samples of " +
                          std::to_string(cell) + " pixels make a picture above " +
                          std::to_string(detail::kMaxSide) + " pixels a side");
  }
  detail::Canvas canvas(static_cast<int>(width), static_cast<int>(height));
  detail::TextStyle title;
  title.size = 20;
  title.bold = true;
  title.max_width = static_cast<double>(width - 2 * kMargin);
  canvas.text("Test samples: " + std::to_string(wrong) + " wrong of " + std::to_string(total) +
                  " shown, mistakes first",
              kMargin, kMargin, title);
  detail::TextStyle note;
  note.size = 13;
  note.colour = detail::hex(0x5f5f5f);
  note.max_width = title.max_width;
  canvas.text("red frame: wrong prediction; green frame: right", kMargin, kMargin + 28, note);

  detail::TextStyle line;
  line.size = 12;
  line.max_width = static_cast<double>(cell_w);
  line.align = detail::Align::kCenter;
  for (int64_t k = 0; k < total; ++k) {
    const auto& s = samples[order[static_cast<size_t>(k)]];
    const int64_t x = kMargin + (k % columns) * (cell_w + kGap);
    const int64_t y = kMargin + kHeader + (k / columns) * (cell + kCaption + kGap);
    const auto rgb = transforms::to_rgb(s.image);
    const double scale = std::min(static_cast<double>(cell) / static_cast<double>(rgb.width),
                                  static_cast<double>(cell) / static_cast<double>(rgb.height));
    const transforms::Size size{
        std::max<int64_t>(1, std::llround(static_cast<double>(rgb.height) * scale)),
        std::max<int64_t>(1, std::llround(static_cast<double>(rgb.width) * scale))};
    const auto shown =
        size == transforms::Size{rgb.height, rgb.width} ? rgb : transforms::resize(rgb, size);
    const int64_t ix = x + (cell_w - shown.width) / 2;
    const int64_t iy = y + (cell - shown.height) / 2;
    const bool right = s.label == s.predicted;
    canvas.stroke_rect(static_cast<double>(ix) - 2, static_cast<double>(iy) - 2,
                       static_cast<double>(shown.width) + 4, static_cast<double>(shown.height) + 4,
                       right ? kRight : kWrong, 3);
    canvas.blit(shown, static_cast<int>(ix), static_cast<int>(iy));
    const double middle = static_cast<double>(x) + static_cast<double>(cell_w) / 2;
    line.colour = detail::hex(0x1a1a1a);
    line.bold = false;
    canvas.text("true: " + classes[static_cast<size_t>(s.label)], middle,
                static_cast<double>(y + cell + 4), line);
    line.colour = right ? detail::hex(0x1e7b1e) : kWrong;
    line.bold = !right;
    canvas.text("pred: " + classes[static_cast<size_t>(s.predicted)] + " " +
                    detail::percent_text(s.probability, 0),
                middle, static_cast<double>(y + cell + 21), line);
  }
  return canvas.png();
}

}  // namespace xfer::viz

#include "xfer/viz/sweep.h"

#include "detail/canvas.h"
#include "detail/format.h"
#include "detail/html.h"
#include "detail/plot.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/run/files.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <system_error>

namespace xfer::viz {
namespace {

namespace fs = std::filesystem;

constexpr int kWidth = 1000;
constexpr int kHeight = 600;

// matplotlib's default colour cycle, as in curves.png.
const std::vector<detail::Colour> kColours = {
    detail::hex(0x1f77b4), detail::hex(0xff7f0e), detail::hex(0x2ca02c), detail::hex(0xd62728),
    detail::hex(0x9467bd), detail::hex(0x8c564b), detail::hex(0xe377c2), detail::hex(0x7f7f7f)};

// The points of each strategy, in order of first appearance, each sorted by `labelled`.
// Throws InvalidArgument as draw_sweep documents.
std::vector<std::vector<SweepPoint>> lines_of(const std::vector<SweepPoint>& points) {
  if (points.empty()) throw InvalidArgument("sweep: expected at least one point, got none");
  std::vector<std::vector<SweepPoint>> lines;
  for (const auto& p : points) {
    if (p.labelled < 1) {
      throw InvalidArgument("sweep: point '" + p.strategy + "': expected at least 1 labelled " +
                            "image a class, got " + std::to_string(p.labelled));
    }
    if (!(p.top1 >= 0 && p.top1 <= 1)) {
      throw InvalidArgument("sweep: point '" + p.strategy + "' at " + std::to_string(p.labelled) +
                            ": expected an accuracy in [0, 1], got " + detail::number_text(p.top1));
    }
    auto line = std::find_if(lines.begin(), lines.end(),
                             [&](const auto& l) { return l.front().strategy == p.strategy; });
    if (line == lines.end()) {
      lines.push_back({p});
      continue;
    }
    for (const auto& q : *line) {
      if (q.labelled == p.labelled) {
        throw InvalidArgument("sweep: strategy '" + p.strategy + "' has two points at " +
                              std::to_string(p.labelled) + " labelled images a class");
      }
    }
    line->push_back(p);
  }
  if (lines.size() > kColours.size()) {
    throw InvalidArgument("sweep: expected at most " + std::to_string(kColours.size()) +
                          " strategies, got " + std::to_string(lines.size()));
  }
  for (auto& line : lines) {
    std::sort(line.begin(), line.end(),
              [](const SweepPoint& a, const SweepPoint& b) { return a.labelled < b.labelled; });
  }
  return lines;
}

// The href of `run_dir`'s report.html from a page in `dir`; empty when there is no report.
std::string report_link(const fs::path& dir, const fs::path& run_dir) {
  std::error_code error;
  if (!fs::is_regular_file(run_dir / "report.html", error)) return "";
  fs::path relative = run_dir.lexically_normal().lexically_relative(dir.lexically_normal());
  if (relative.empty()) relative = fs::absolute(run_dir, error);
  return (relative / "report.html").generic_string();
}

std::string sweep_table(const fs::path& dir, const std::vector<std::vector<SweepPoint>>& lines) {
  std::map<int64_t, std::vector<const SweepPoint*>> rows;  // labelled -> point of each line
  for (size_t l = 0; l < lines.size(); ++l) {
    for (const auto& p : lines[l]) {
      auto& row = rows[p.labelled];
      row.resize(lines.size(), nullptr);
      row[l] = &p;
    }
  }
  std::string html = "<table>\n<tr><th>labelled images a class</th>";
  for (const auto& line : lines) {
    html += "<th>" + detail::escape(line.front().strategy) + "</th><th>time</th>";
  }
  html += "</tr>\n";
  for (auto& [labelled, row] : rows) {
    row.resize(lines.size(), nullptr);
    double best = -1;
    for (const auto* p : row) {
      if (p) best = std::max(best, p->top1);
    }
    html += "<tr><td>" + std::to_string(labelled) + "</td>";
    for (const auto* p : row) {
      if (!p) {
        html += "<td>-</td><td>-</td>";
        continue;
      }
      std::string accuracy = detail::percent_text(p->top1, 2);
      const std::string link = report_link(dir, p->run_dir);
      if (!link.empty()) {
        accuracy = "<a href=\"" + detail::escape(link) + "\">" + accuracy + "</a>";
      }
      if (p->top1 == best) accuracy = "<b>" + accuracy + "</b>";
      html += "<td>" + accuracy + "</td><td>" + detail::fixed(p->seconds, 1) + " s, " +
              std::to_string(p->epochs) + (p->epochs == 1 ? " epoch" : " epochs") + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// sweep.png of the points lines_of grouped.
std::string draw_lines(const std::vector<std::vector<SweepPoint>>& lines,
                       const std::string& title) {
  detail::Canvas canvas(kWidth, kHeight);
  detail::TextStyle heading;
  heading.size = 20;
  heading.bold = true;
  heading.max_width = kWidth - 32;
  canvas.text(title, 16, 12, heading);

  detail::TextStyle legend;
  legend.size = 14;
  double x = 16;
  for (size_t l = 0; l < lines.size(); ++l) {
    const auto& name = lines[l].front().strategy;
    canvas.line(x, 59, x + 28, 59, kColours[l], 2);
    canvas.disc(x + 14, 59, 4, kColours[l]);
    canvas.text(name, x + 36, 50, legend);
    x += 36 + canvas.measure(name, legend).first + 28;
  }

  double lo = static_cast<double>(lines.front().front().labelled);
  double hi = lo;
  std::vector<double> accuracies;
  for (const auto& line : lines) {
    for (const auto& p : line) {
      lo = std::min(lo, static_cast<double>(p.labelled));
      hi = std::max(hi, static_cast<double>(p.labelled));
      accuracies.push_back(100 * p.top1);
    }
  }
  const detail::Area area{90, 120, kWidth - 90 - 40, kHeight - 120 - 64};
  const detail::Axes axes(area, {lo / 1.5, hi * 1.5},
                          detail::padded_range(accuracies, 0.08, 0, 100), detail::Scale::kLog);
  axes.draw_frame(canvas, "Test accuracy against labelled data", "labelled images a class",
                  "test top-1 accuracy (%)", /*integer_x=*/false);
  for (size_t l = 0; l < lines.size(); ++l) {
    std::vector<std::pair<double, double>> line;
    for (const auto& p : lines[l]) {
      line.push_back({axes.x(static_cast<double>(p.labelled)), axes.y(100 * p.top1)});
    }
    canvas.polyline(line, kColours[l], 2.5);
    for (const auto& [px, py] : line) canvas.disc(px, py, 5, kColours[l]);
  }
  return canvas.png();
}

}  // namespace

std::string draw_sweep(const std::vector<SweepPoint>& points, const std::string& title) {
  return draw_lines(lines_of(points), title);
}

fs::path write_sweep_report(const fs::path& dir, const std::string& title, const std::string& intro,
                            const std::vector<SweepPoint>& points) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw IoError("sweep folder '" + dir.string() + "': not a directory" +
                  (error ? " (" + error.message() + ")" : std::string()));
  }
  const auto lines = lines_of(points);
  const std::string png = draw_lines(lines, title);
  write_file_atomically(dir / "sweep.png", png);

  std::string csv = "labelled,strategy,test_top1,epochs,seconds,run\n";
  for (const auto& p : points) {
    csv += std::to_string(p.labelled) + "," + run::csv_field(p.strategy) + "," +
           detail::fixed(p.top1, 6) + "," + std::to_string(p.epochs) + "," +
           detail::fixed(p.seconds, 3) + "," + run::csv_field(p.run_dir.string()) + "\n";
  }
  write_file_atomically(dir / "sweep.csv", csv);

  const std::string html =
      detail::page_head(title) + "<h1>" + detail::escape(title) + "</h1>\n<p>" +
      detail::escape(intro) + "</p>\n" +
      detail::section("plot", "Accuracy against labelled data",
                      detail::embed_png_bytes(png,
                                              "test accuracy against labelled images a "
                                              "class, one line per strategy")) +
      detail::section("table", "Test accuracy and training time",
                      sweep_table(dir, lines) +
                          "<p class=\"note\">The best accuracy of each row is in bold; each "
                          "accuracy links to its run's report.</p>\n") +
      "<p class=\"note\">Written by xfer into " + detail::escape(dir.string()) +
      " (sweep.png, sweep.csv).</p>\n" + detail::page_tail();
  const fs::path report = dir / "report.html";
  write_file_atomically(report, html);
  return report;
}

}  // namespace xfer::viz

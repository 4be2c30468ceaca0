// The data-efficiency sweep: sweep.png draws one line per strategy on a logarithmic axis of
// labelled images, and the sweep's page, table and CSV say what each run measured and link it.

#include "pictures.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/viz/sweep.h"

#include <gtest/gtest.h>

#include <cmath>

namespace xfer::testing {
namespace {

namespace fs = std::filesystem;

const viz::Rgb kFirst{0x1f, 0x77, 0xb4};
const viz::Rgb kSecond{0xff, 0x7f, 0x0e};
const viz::Rgb kThird{0x2c, 0xa0, 0x2c};

// The centre columns of the markers of `colour` below the legend: columns holding at least 8
// of its pixels (a 5 px disc; the 2.5 px line through it holds fewer), grouped when adjacent.
std::vector<double> marker_columns(const transforms::Image& picture, viz::Rgb colour) {
  std::vector<double> centres;
  int64_t first = -1;
  for (int64_t x = 0; x <= picture.width; ++x) {
    int64_t count = 0;
    for (int64_t y = 100; x < picture.width && y < picture.height; ++y) {
      if (pixel(picture, x, y) == colour) ++count;
    }
    if (count >= 8 && first < 0) first = x;
    if (count < 8 && first >= 0) {
      centres.push_back((first + x - 1) / 2.0);
      first = -1;
    }
  }
  return centres;
}

std::vector<viz::SweepPoint> three_lines() {
  return {{"features", 10, 0.5, 60, 1.5, "runs/f10"},
          {"features", 100, 0.9, 60, 2.0, "runs/f100"},
          {"fine, tuned", 100, 0.8, 10, 9.0, "runs/t100"},
          {"fine, tuned", 10, 0.4, 100, 8.0, "runs/t10"},
          {"flat", 10, 0.6, 1, 0.1, "f1"},
          {"flat", 1000, 0.6, 1, 0.1, "f3"},
          {"flat", 100, 0.6, 1, 0.1, "f2"}};
}

TEST(Sweep, DrawsOneLinePerStrategyOnALogarithmicAxis) {
  const auto picture = decode_png(viz::draw_sweep(three_lines(), "a sweep"));
  EXPECT_EQ(picture.width, 1000);
  EXPECT_EQ(picture.height, 600);
  EXPECT_TRUE(not_blank(picture));
  EXPECT_TRUE(has_antialiased_text(picture, 10, 30));   // the title
  EXPECT_TRUE(has_antialiased_text(picture, 545, 50));  // ticks and the axis label
  for (const auto& colour : {kFirst, kSecond, kThird})
    EXPECT_GT(count_colour(picture, colour), 300);
  // 10, 100 and 1000 are equally far apart on a log axis (1, 10 and 100 times as far on a linear
  // one), and in that order.
  const auto flat = marker_columns(picture, kThird);
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_NEAR(flat[1] - flat[0], flat[2] - flat[1], 2.0);
  EXPECT_GT(flat[1] - flat[0], 200);
  // The first strategy's points at 10 and 100 fall on the flat line's columns.
  const auto first = marker_columns(picture, kFirst);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NEAR(first[0], flat[0], 2.0);
  EXPECT_NEAR(first[1], flat[1], 2.0);
}

TEST(Sweep, RefusesPointsItCannotDraw) {
  EXPECT_THROW(viz::draw_sweep({}, "t"), InvalidArgument);
  EXPECT_THROW(viz::draw_sweep({{"a", 0, 0.5, 1, 1, "r"}}, "t"), InvalidArgument);
  EXPECT_THROW(viz::draw_sweep({{"a", 10, 1.5, 1, 1, "r"}}, "t"), InvalidArgument);
  EXPECT_THROW(viz::draw_sweep({{"a", 10, std::nan(""), 1, 1, "r"}}, "t"), InvalidArgument);
  try {
    viz::draw_sweep({{"a", 10, 0.5, 1, 1, "r"}, {"a", 10, 0.6, 1, 1, "s"}}, "t");
    ADD_FAILURE() << "two points of one strategy at one amount were drawn";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("strategy 'a' has two points at 10"), std::string::npos)
        << e.what();
  }
  std::vector<viz::SweepPoint> nine;
  for (int i = 0; i < 9; ++i) nine.push_back({"s" + std::to_string(i), 10, 0.5, 1, 1, "r"});
  EXPECT_THROW(viz::draw_sweep(nine, "t"), InvalidArgument);
}

TEST(Sweep, ThePageTabulatesEachAmountAndLinksEachRunsReport) {
  const fs::path dir = temp_dir("sweep_report");
  auto points = three_lines();
  for (auto& p : points) {
    p.run_dir = dir / p.run_dir;
    fs::create_directories(p.run_dir);
  }
  write_file_atomically(dir / "runs/f10/report.html", "<html></html>\n");  // only this one has
  const auto page = viz::write_sweep_report(dir, "Sweep <1>", "What & why.", points);
  EXPECT_EQ(page, dir / "report.html");
  const std::string html = read_file(page);
  EXPECT_NE(html.find("<title>Sweep &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<p>What &amp; why.</p>"), std::string::npos);
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,"), std::string::npos);
  // The row of 10: features 50 % (linked), fine-tuned 40 %, flat 60 % the best.
  EXPECT_NE(html.find("<tr><td>10</td><td><a href=\"runs/f10/report.html\">50.00%</a></td>"
                      "<td>1.5 s, 60 epochs</td><td>40.00%</td><td>8.0 s, 100 epochs</td>"
                      "<td><b>60.00%</b></td><td>0.1 s, 1 epoch</td></tr>"),
            std::string::npos)
      << html;
  // 1000 has only the flat line's point.
  EXPECT_NE(html.find("<tr><td>1000</td><td>-</td><td>-</td><td>-</td><td>-</td><td><b>60.00%"),
            std::string::npos);
  const std::string csv = read_file(dir / "sweep.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "labelled,strategy,test_top1,epochs,seconds,run");
  EXPECT_NE(
      csv.find("\n100,\"fine, tuned\",0.800000,10,9.000," + (dir / "runs/t100").string() + "\n"),
      std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 8);
  EXPECT_EQ(decode_png_file(dir / "sweep.png").width, 1000);

  EXPECT_THROW(viz::write_sweep_report(dir / "absent", "t", "", points), IoError);
  EXPECT_THROW(viz::write_sweep_report(dir, "t", "", {}), InvalidArgument);
}

}  // namespace
}  // namespace xfer::testing

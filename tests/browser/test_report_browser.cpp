// report.html opened in headless Chromium: it loads with no console error and no request leaving
// the page, every image has a natural size, and a screenshot is saved in the build directory.
// The same check fails on a page with a broken image, a console error or an outside request, so
// it can tell.

#include "pictures.h"
#include "run_fixture.h"
#include "support/fill.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/core/files.h"
#include "xfer/models/registry.h"
#include "xfer/viz/feature_maps.h"
#include "xfer/viz/report.h"
#include "xfer/viz/sweep.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace xfer::testing {
namespace {

#define XFER_REQUIRE_CHROMIUM()                                                                \
  do {                                                                                         \
    if (!std::filesystem::exists(XFER_CHROMIUM)) {                                             \
      GTEST_SKIP() << XFER_CHROMIUM << " is absent: scripts/setup installs Debian's chromium " \
                   << "(and python3-websocket) for the browser test";                          \
    }                                                                                          \
  } while (0)

struct PageCheck {
  int exit_code = -1;
  nlohmann::json report;
  std::string err;
};

PageCheck check_page(const std::filesystem::path& page, const std::filesystem::path& screenshot) {
  const auto result =
      run_process(XFER_PYTHON, {XFER_CHECK_PAGE, page.string(), screenshot.string()});
  PageCheck check;
  check.exit_code = result.exit_code;
  check.err = result.err;
  try {
    check.report = nlohmann::json::parse(result.out);
  } catch (const nlohmann::json::exception&) {
    check.report = {{"failure", "no JSON from check_page.py: " + result.out + result.err}};
  }
  return check;
}

// A finished run with the feature maps of a real resnet18 (closed-form weights).
std::filesystem::path finished_run() {
  const auto dir = temp_dir("browser_run");
  write_finished_run(dir, /*image_files=*/true);
  const auto model = models::create_model("resnet18");
  fill_closed_form(*model);
  std::filesystem::remove_all(dir / "maps");
  viz::write_feature_maps(*model, models::find_model("resnet18").input, test_photo(300, 260),
                          viz::feature_map_layers(*model), dir / "maps");
  viz::write_run_pictures(dir);
  viz::write_report(dir);
  return dir;
}

std::filesystem::path out_dir() { return XFER_BROWSER_OUT; }

// `html` with `from` replaced by `to` once, written beside it as `name`.
std::filesystem::path altered(const std::filesystem::path& page, const std::string& name,
                              const std::string& from, const std::string& to) {
  std::string html = read_file(page);
  const auto at = html.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) html.replace(at, from.size(), to);
  const auto file = page.parent_path() / name;
  write_file_atomically(file, html);
  return file;
}

TEST(ReportInBrowser, LoadsCleanlyWithEveryImage) {
  XFER_REQUIRE_CHROMIUM();
  const auto run = finished_run();
  const auto screenshot = out_dir() / "report.png";
  std::filesystem::remove(screenshot);
  const auto check = check_page(run / "report.html", screenshot);
  ASSERT_EQ(check.exit_code, 0) << check.report.dump(2) << check.err;
  EXPECT_EQ(check.report["title"], "xfer run " + run.filename().string());
  EXPECT_TRUE(check.report["console_errors"].empty()) << check.report.dump(2);
  EXPECT_TRUE(check.report["requests"].empty()) << check.report.dump(2);
  const auto& images = check.report["images"];
  ASSERT_EQ(images.size(), 5u) << check.report.dump(2);  // curves, confusion, samples, 2 maps
  for (const auto& image : images) {
    EXPECT_GT(image["naturalWidth"].get<int>(), 0) << image.dump();
    EXPECT_GT(image["naturalHeight"].get<int>(), 0) << image.dump();
  }
  EXPECT_EQ(images[0]["naturalWidth"], 1200);  // curves.png
  // The screenshot is the whole page, drawn.
  const auto shot = decode_png_file(screenshot);
  EXPECT_GE(shot.width, 1200);  // the 1280 px window, less a scroll bar
  EXPECT_LE(shot.width, 1280);
  EXPECT_GT(shot.height, 2000);
  EXPECT_TRUE(not_blank(shot));
  std::filesystem::copy_file(run / "report.html", out_dir() / "report.html",
                             std::filesystem::copy_options::overwrite_existing);
}

TEST(ReportInBrowser, ARunInProgressLoadsCleanlyToo) {
  XFER_REQUIRE_CHROMIUM();
  const auto run = temp_dir("browser_progress");
  write_run_in_progress(run);
  viz::write_run_pictures(run);
  viz::write_report(run);
  const auto check = check_page(run / "report.html", out_dir() / "report_in_progress.png");
  ASSERT_EQ(check.exit_code, 0) << check.report.dump(2) << check.err;
  EXPECT_EQ(check.report["images"].size(), 1u);
}

// The demo's sweep page: its plot and links to two runs' reports, one of them real.
TEST(ReportInBrowser, ASweepPageLoadsCleanlyWithItsPlot) {
  XFER_REQUIRE_CHROMIUM();
  const auto dir = temp_dir("browser_sweep");
  const auto run = dir / "labelled-10" / "features";
  std::filesystem::create_directories(run);
  write_run_in_progress(run);
  viz::write_report(run);
  viz::write_sweep_report(dir, "A sweep", "Two strategies.",
                          {{"features", 10, 0.7, 60, 1.0, run},
                           {"features", 100, 0.8, 60, 2.0, dir / "labelled-100" / "features"},
                           {"scratch", 10, 0.6, 10, 3.0, dir / "labelled-10" / "scratch"},
                           {"scratch", 100, 0.85, 10, 4.0, dir / "labelled-100" / "scratch"}});
  const auto check = check_page(dir / "report.html", out_dir() / "sweep.png");
  ASSERT_EQ(check.exit_code, 0) << check.report.dump(2) << check.err;
  EXPECT_EQ(check.report["title"], "A sweep");
  EXPECT_TRUE(check.report["requests"].empty()) << check.report.dump(2);
  ASSERT_EQ(check.report["images"].size(), 1u) << check.report.dump(2);
  EXPECT_EQ(check.report["images"][0]["naturalWidth"], 1000);
  EXPECT_EQ(check.report["images"][0]["naturalHeight"], 600);
}

TEST(ReportInBrowser, TheCheckFailsOnABrokenImage) {
  XFER_REQUIRE_CHROMIUM();
  const auto run = temp_dir("browser_broken");
  write_run_in_progress(run);
  viz::write_run_pictures(run);
  viz::write_report(run);
  // The PNG signature of the (only) image, base64 "iVBORw0KGgo", made into garbage.
  const auto page =
      altered(run / "report.html", "broken.html", "base64,iVBORw0KGgo", "base64,AAAAAAAAAAA");
  const auto check = check_page(page, out_dir() / "broken.png");
  EXPECT_EQ(check.exit_code, 1) << check.report.dump(2) << check.err;
  ASSERT_EQ(check.report["images"].size(), 1u) << check.report.dump(2);
  EXPECT_EQ(check.report["images"][0]["naturalWidth"], 0) << check.report.dump(2);
}

TEST(ReportInBrowser, TheCheckFailsOnAConsoleErrorOrAnOutsideRequest) {
  XFER_REQUIRE_CHROMIUM();
  const auto run = temp_dir("browser_errors");
  write_run_in_progress(run);
  viz::write_report(run);
  auto check = check_page(altered(run / "report.html", "error.html", "</main>",
                                  "<script>console.error('xfer test error')</script></main>"),
                          out_dir() / "console_error.png");
  EXPECT_EQ(check.exit_code, 1) << check.report.dump(2) << check.err;
  EXPECT_NE(check.report["console_errors"].dump().find("xfer test error"), std::string::npos)
      << check.report.dump(2);
  // Port 9 (discard) on the loopback: refused at once, no network needed.
  check = check_page(altered(run / "report.html", "outside.html", "</main>",
                             "<img src=\"http://127.0.0.1:9/x.png\" alt=\"outside\"></main>"),
                     out_dir() / "outside.png");
  EXPECT_EQ(check.exit_code, 1) << check.report.dump(2) << check.err;
  ASSERT_EQ(check.report["requests"].size(), 1u) << check.report.dump(2);
  EXPECT_EQ(check.report["requests"][0], "http://127.0.0.1:9/x.png");
}

}  // namespace
}  // namespace xfer::testing

// `xfer report RUN` as a user meets it: a finished run gets its three pictures and report.html,
// a run in progress its curves and a page saying the test is pending; what is not a run is
// refused with the right exit code.

#include "pictures.h"
#include "run_fixture.h"
#include "support/paths.h"
#include "support/process.h"
#include "xfer/core/files.h"

#include <gtest/gtest.h>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ReportCli, DrawsTheRunsPicturesAndItsPage) {
  const auto dir = temp_dir("report_cli");
  write_finished_run(dir, /*image_files=*/true);
  const auto result = run_xfer({"report", dir.string(), "--samples", "12"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const auto* name : {"curves.png", "confusion.png", "samples.png", "report.html"}) {
    EXPECT_TRUE(contains(result.out, "wrote " + (dir / name).string() + "\n")) << result.out;
  }
  EXPECT_FALSE(contains(result.out, "note:")) << result.out;
  for (const auto* name : {"curves.png", "confusion.png", "samples.png"}) {
    EXPECT_TRUE(not_blank(decode_png_file(dir / name))) << name;
  }
  const std::string html = read_file(dir / "report.html");
  size_t images = 0;
  for (size_t at = html.find("<img src=\"data:image/png;base64,"); at != std::string::npos;
       at = html.find("<img src=\"data:image/png;base64,", at + 1)) {
    ++images;
  }
  EXPECT_EQ(images, 5u);  // curves, confusion, samples, two feature maps
}

TEST(ReportCli, WorksForARunInProgress) {
  const auto dir = temp_dir("report_cli_progress");
  write_run_in_progress(dir);
  const auto result = run_xfer({"report", dir.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "wrote " + (dir / "curves.png").string())) << result.out;
  EXPECT_TRUE(contains(result.out,
                       "note: confusion.png, samples.png: no predictions.csv "
                       "(test evaluation pending)"))
      << result.out;
  EXPECT_TRUE(contains(read_file(dir / "report.html"), "the test evaluation is pending"));
}

TEST(ReportCli, RefusesWhatIsNotARun) {
  const auto dir = temp_dir("report_cli_bad");
  auto result = run_xfer({"report", dir.string()});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_TRUE(contains(result.err, "expected config.json or metrics.csv")) << result.err;
  result = run_xfer({"report", (dir / "absent").string()});
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_TRUE(contains(result.err, "not a directory")) << result.err;
  write_file_atomically(dir / "metrics.csv", "epoch,loss\n");
  result = run_xfer({"report", dir.string()});
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_TRUE(contains(result.err, "metrics.csv: line 1: expected the header")) << result.err;
  result = run_xfer({"report"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
}

}  // namespace
}  // namespace xfer::testing

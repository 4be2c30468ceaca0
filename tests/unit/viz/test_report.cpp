// The pictures of a run drawn from its files, and report.html: self-contained (every image a
// data: URI that decodes), escaped, the best epoch highlighted, and still useful for a run in
// progress.

#include "pictures.h"
#include "run_fixture.h"
#include "support/paths.h"
#include "xfer/core/error.h"
#include "xfer/core/files.h"
#include "xfer/viz/report.h"

#include <gtest/gtest.h>

namespace xfer::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

std::string base64_decode(const std::string& text) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int d = digit(c);
    if (d < 0) break;
    bits = bits << 6 | static_cast<uint32_t>(d);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// The PNGs embedded in `html`, decoded. (std::regex recurses per character: no use on megabytes.)
std::vector<transforms::Image> embedded_pictures(const std::string& html) {
  std::vector<transforms::Image> pictures;
  const std::string start = "<img src=\"data:image/png;base64,";
  for (size_t at = html.find(start); at != std::string::npos; at = html.find(start, at + 1)) {
    const size_t begin = at + start.size();
    const size_t end = html.find('"', begin);
    EXPECT_EQ(html.compare(end, 7, "\" alt=\""), 0) << "an <img> without alt after its data";
    pictures.push_back(decode_png(base64_decode(html.substr(begin, end - begin))));
  }
  return pictures;
}

TEST(RunPictures, DrawsCurvesConfusionAndSamplesFromTheFiles) {
  const auto dir = temp_dir("report_pictures");
  write_finished_run(dir, /*image_files=*/true);
  const auto done = viz::write_run_pictures(dir);
  EXPECT_EQ(done.written, (std::vector<std::filesystem::path>{
                              dir / "curves.png", dir / "confusion.png", dir / "samples.png"}));
  EXPECT_TRUE(done.notes.empty()) << done.notes[0];
  for (const auto& file : done.written) EXPECT_TRUE(not_blank(decode_png_file(file))) << file;
  EXPECT_EQ(viz::run_classes(dir)[1], "bees <&> \"wasps\"");
}

TEST(RunPictures, SkipsSamplesWithoutImageFilesUnlessGivenThem) {
  const auto dir = temp_dir("report_memory");
  write_finished_run(dir, /*image_files=*/false);
  auto done = viz::write_run_pictures(dir);
  EXPECT_EQ(done.written.size(), 2u);
  ASSERT_EQ(done.notes.size(), 1u);
  EXPECT_TRUE(contains(done.notes[0], "samples.png: the test images are not files"))
      << done.notes[0];
  EXPECT_FALSE(std::filesystem::exists(dir / "samples.png"));
  done = viz::write_run_pictures(
      dir, viz::RunPicturesOptions().sample_image(
               [](const run::Prediction& p) { return fixture_image(p.index); }));
  EXPECT_EQ(done.written.back(), dir / "samples.png");
  EXPECT_TRUE(not_blank(decode_png_file(dir / "samples.png")));
}

TEST(Report, GathersEverythingInOneSelfContainedEscapedPage) {
  const auto dir = temp_dir("report_full");
  write_finished_run(dir, /*image_files=*/true);
  viz::write_run_pictures(dir);
  EXPECT_EQ(viz::write_report(dir), dir / "report.html");
  const std::string html = read_file(dir / "report.html");

  // curves, confusion, samples and two feature maps, each a PNG that decodes.
  const auto pictures = embedded_pictures(html);
  EXPECT_EQ(occurrences(html, "<img "), 5u);
  ASSERT_EQ(pictures.size(), 5u);
  for (const auto& picture : pictures) EXPECT_TRUE(not_blank(picture));
  EXPECT_EQ(pictures[0].width, 1200);  // curves first
  // Nothing to fetch: no address, no external script or style.
  for (const auto* outside : {"http:", "https:", "file:", "<script", "<link", "@import", "url("}) {
    EXPECT_FALSE(contains(html, outside)) << outside;
  }
  // Everything from the files is escaped.
  EXPECT_FALSE(contains(html, "bees <&>"));
  EXPECT_TRUE(contains(html, "bees &lt;&amp;&gt; &quot;wasps&quot;"));
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(&#39;not escaped&#39;)&lt;/script&gt;"));
  // Results, the best epoch's row, per-class measures.
  EXPECT_TRUE(contains(html, "Finished: 8 epochs, best epoch 6, tested."));
  EXPECT_TRUE(contains(html, "<dt>top-1 accuracy</dt><dd>76.67%</dd>"));
  EXPECT_TRUE(contains(html, "<tr class=\"best\"><td>6 (best)</td>"));
  EXPECT_EQ(occurrences(html, "<tr class=\"best\">"), 1u);
  // ants: every third sample of 30.
  EXPECT_TRUE(contains(html, "<tr><td>ants</td><td>10</td>"));
  EXPECT_TRUE(contains(html, "<figcaption>layer1.0.conv1</figcaption>"));
  EXPECT_TRUE(contains(html, "&quot;epochs&quot;: 8"));
}

TEST(Report, PerClassMeasuresComeFromThePredictions) {
  const auto dir = temp_dir("report_classes");
  const auto fixture = write_finished_run(dir, false);
  viz::write_report(dir);
  const std::string html = read_file(dir / "report.html");
  for (int64_t c = 0; c < 3; ++c) {
    int64_t support = 0;
    int64_t predicted = 0;
    int64_t right = 0;
    for (const auto& p : fixture.predictions) {
      support += p.label == c;
      predicted += p.predicted == c;
      right += p.label == c && p.predicted == c;
    }
    char precision[32];
    char recall[32];
    std::snprintf(precision, sizeof precision, "%.1f%%", 100.0 * right / predicted);
    std::snprintf(recall, sizeof recall, "%.1f%%", 100.0 * right / support);
    const std::string name =
        c == 1 ? "bees &lt;&amp;&gt; &quot;wasps&quot;" : fixture.classes[static_cast<size_t>(c)];
    const std::string row = "<tr><td>" + name + "</td><td>" + std::to_string(support) +
                            "</td><td>" + std::to_string(predicted) + "</td><td>" + precision +
                            "</td><td>" + recall + "</td></tr>";
    EXPECT_TRUE(contains(html, row)) << row;
  }
}

TEST(Report, ARunInProgressShowsItsCurvesAndThatTheTestIsPending) {
  const auto dir = temp_dir("report_progress");
  write_run_in_progress(dir);
  const auto done = viz::write_run_pictures(dir);
  EXPECT_EQ(done.written, std::vector<std::filesystem::path>{dir / "curves.png"});
  ASSERT_EQ(done.notes.size(), 1u);
  EXPECT_TRUE(contains(done.notes[0], "test evaluation pending"));
  viz::write_report(dir);
  const std::string html = read_file(dir / "report.html");
  EXPECT_EQ(embedded_pictures(html).size(), 1u);
  EXPECT_TRUE(contains(html,
                       "In progress: 3 epochs so far, best epoch so far 3; the test "
                       "evaluation is pending."));
  EXPECT_TRUE(contains(html, "No feature maps"));
}

TEST(Report, AFreshRunWithOnlyItsConfigWorks) {
  const auto dir = temp_dir("report_fresh");
  write_file_atomically(dir / "config.json", "{\"model\": \"resnet18\"}");
  const auto done = viz::write_run_pictures(dir);
  EXPECT_TRUE(done.written.empty());
  EXPECT_EQ(done.notes.size(), 2u);
  viz::write_report(dir);
  EXPECT_TRUE(contains(read_file(dir / "report.html"), "No epoch has finished yet."));
}

TEST(Report, RefusesWhatIsNotARunDirectory) {
  const auto dir = temp_dir("report_not_run");
  try {
    viz::write_report(dir);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(), "expected config.json or metrics.csv, found neither"));
  }
  EXPECT_THROW(viz::write_report(dir / "absent"), IoError);
  EXPECT_THROW(viz::write_run_pictures(dir / "absent"), IoError);
  write_file_atomically(dir / "config.json", "{not json");
  try {
    viz::write_report(dir);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_TRUE(contains(e.what(), "config.json: not JSON")) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "report.html"));
}

TEST(Report, NamesAPredictionBeyondTheResultsClasses) {
  const auto dir = temp_dir("report_classes_mismatch");
  write_finished_run(dir, false);
  run::Results results = run::read_results(dir / "results.json");
  results.classes.resize(2);
  run::write_results(dir / "results.json", results);
  try {
    viz::run_classes(dir);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_TRUE(contains(e.what(), "class 2 is beyond the 2 classes of")) << e.what();
  }
}

}  // namespace
}  // namespace xfer::testing

// Every fuzz entry point (entries.h) over its seed corpus and over the committed crash reproducers
// of tests/fuzz/regressions/<target>/, built with the normal compiler: a parser fix stays fixed
// without clang or libFuzzer. docs/fuzzing.md lists what each reproducer found.

#include "entries.h"

#include "support/paths.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace xfer::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

bool run(const FuzzTarget& target, const std::string& bytes) {
  return target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

// gtest prints a parameter with this (found by argument-dependent lookup) instead of its bytes.
void PrintTo(const FuzzTarget& target, std::ostream* out) { *out << target.name; }

namespace {

class FuzzTargetTest : public ::testing::TestWithParam<FuzzTarget> {};

// The seeds hold inputs that parse and inputs that are refused, and none crashes or throws
// anything but a FormatError naming the input.
TEST_P(FuzzTargetTest, SeedCorpusIsAcceptedOrRefusedCleanly) {
  const FuzzTarget& target = GetParam();
  const auto seeds = seed_corpus(target.name, xfer::testing::fixtures_dir().string());
  size_t accepted = 0;
  for (const auto& seed : seeds) {
    SCOPED_TRACE(std::string(target.name) + " seed " + seed.name);
    bool ok = false;
    EXPECT_NO_THROW(ok = run(target, seed.bytes));
    accepted += ok ? 1 : 0;
  }
  EXPECT_GT(accepted, 0u) << "no seed of " << target.name
                          << " parses: the corpus misses the format";
  EXPECT_LT(accepted, seeds.size()) << "every seed of " << target.name << " parses: no error path";
}

// Cut at every length, each seed is still accepted or refused cleanly (what the fuzzer tries
// first, kept here so that the normal build covers it too).
TEST_P(FuzzTargetTest, EveryPrefixOfTheSeedsIsAcceptedOrRefusedCleanly) {
  const FuzzTarget& target = GetParam();
  for (const auto& seed : seed_corpus(target.name, xfer::testing::fixtures_dir().string())) {
    const size_t step = seed.bytes.size() > 4096 ? 7 : 1;
    for (size_t n = 0; n < seed.bytes.size(); n += step) {
      SCOPED_TRACE(std::string(target.name) + " seed " + seed.name + " cut at " +
                   std::to_string(n));
      EXPECT_NO_THROW(run(target, seed.bytes.substr(0, n)));
    }
  }
}

// The inputs the fuzzer found problems with, once fixed.
TEST_P(FuzzTargetTest, CommittedReproducersAreRefusedCleanly) {
  const FuzzTarget& target = GetParam();
  const fs::path dir = fs::path(XFER_FUZZ_REGRESSIONS_DIR) / target.name;
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no reproducer committed for " << target.name;
  for (const auto& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(run(target, read_whole(entry.path())));
  }
}

INSTANTIATE_TEST_SUITE_P(Fuzz, FuzzTargetTest, ::testing::ValuesIn(fuzz_targets()),
                         [](const ::testing::TestParamInfo<FuzzTarget>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace xfer::fuzz

// xfer_fuzz_seeds FIXTURES_DIR OUT_DIR: writes the seed corpus of every fuzz target to
// OUT_DIR/<target>/<seed> (scripts/fuzz runs it before fuzzing). A tool of the fuzz build, not part
// of the library, so it may print.

#include "entries.h"

#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: xfer_fuzz_seeds FIXTURES_DIR OUT_DIR\n";
    return 2;
  }
  try {
    for (const auto& target : xfer::fuzz::fuzz_targets()) {
      const std::filesystem::path dir = std::filesystem::path(argv[2]) / target.name;
      std::filesystem::create_directories(dir);
      const auto seeds = xfer::fuzz::seed_corpus(target.name, argv[1]);
      for (const auto& seed : seeds) {
        std::ofstream out(dir / seed.name, std::ios::binary);
        out << seed.bytes;
        if (!out) throw std::runtime_error("cannot write " + (dir / seed.name).string());
      }
      std::cout << target.name << ": " << seeds.size() << " seeds in " << dir.string() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// Loader throughput: decode + transform + normalise + batch of an image folder through
// xfer::data::Loader, as one JSON line:
//   bench_loader DIR TRANSFORM WORKERS BATCH EPOCHS
// DIR is an ImageFolder (DIR/<class>/<image>); every epoch is timed whole, worker start included,
// after one untimed epoch that warms the page cache. bench/run_loader.py runs it alternately with
// bench/loader_torchvision.py (the same measurement with torchvision's ImageFolder + DataLoader)
// and writes the table in docs/BENCHMARKS.md.

#include "xfer/data/loader.h"
#include "xfer/data/image_folder.h"
#include "xfer/transforms/transform.h"

#include <chrono>
#include <iostream>
#include <string>

namespace {

// Images loaded in one epoch.
int64_t run_epoch(xfer::data::Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  int64_t images = 0;
  while (auto batch = loader.next()) images += batch->images.size(0);
  return images;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: bench_loader DIR TRANSFORM WORKERS BATCH EPOCHS\n";
    return 2;
  }
  const std::string dir = argv[1];
  const auto transform = xfer::transforms::Transform::parse(argv[2]);
  const int64_t workers = std::stoll(argv[3]);
  const int64_t batch = std::stoll(argv[4]);
  const int epochs = std::stoi(argv[5]);

  // Files that do not decode (hymenoptera's GIF) are left out, as torchvision's ImageFolder
  // leaves out files with other extensions.
  xfer::data::FolderOptions folder;
  folder.skip_bad = true;
  const auto parts = xfer::data::read_image_folder(dir, folder);
  xfer::data::Loader loader(
      parts.train, transform,
      xfer::data::LoaderOptions().batch_size(batch).shuffle(false).workers(workers));
  run_epoch(loader, 0);
  int64_t images = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 1; e <= epochs; ++e) images += run_epoch(loader, e);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "{\"side\": \"xfer\", \"images\": " << images << ", \"seconds\": " << seconds
            << ", \"images_per_s\": " << static_cast<double>(images) / seconds << "}\n";
  return 0;
}

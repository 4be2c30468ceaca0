#include "xfer/core/allocator.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <string>

namespace xfer {

void keep_freed_memory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_MAX_") != nullptr ||
      (tunables != nullptr && std::string(tunables).find("malloc") != std::string::npos)) {
    return;
  }
  mallopt(M_MMAP_MAX, 0);              // every block from the heap, which keeps freed ones
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and never shrinks under them
}

}  // namespace xfer

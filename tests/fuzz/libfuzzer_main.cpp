// libFuzzer's entry for one target, chosen at compile time: XFER_FUZZ_ENTRY names the function of
// entries.h (tests/fuzz/CMakeLists.txt builds fuzz_<target> from this file once per target).
// Only this file differs from the CTest build; an exception escaping the entry aborts, which
// libFuzzer reports as a crash with the input that caused it.

#include "entries.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)XFER_FUZZ_ENTRY(data, size);
  return 0;
}

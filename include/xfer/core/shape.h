#pragma once
// A tensor's shape as error messages and pictures write it: "[32, 3, 224, 224]".

#include <c10/util/ArrayRef.h>

#include <string>

namespace xfer {

/// `sizes` as "[d0, d1, ...]"; "[]" for a scalar.
std::string shape_text(c10::IntArrayRef sizes);

}  // namespace xfer

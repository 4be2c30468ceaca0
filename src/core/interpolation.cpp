#include "xfer/core/interpolation.h"

#include "xfer/core/error.h"

namespace xfer {

const char* interpolation_name(Interpolation interpolation) {
  return interpolation == Interpolation::kBicubic ? "bicubic" : "bilinear";
}

Interpolation parse_interpolation(const std::string& field, const std::string& name) {
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "bicubic") return Interpolation::kBicubic;
  throw InvalidArgument(field + ": expected bilinear or bicubic, got '" + name + "'");
}

}  // namespace xfer

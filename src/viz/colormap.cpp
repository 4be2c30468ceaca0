#include "xfer/viz/colormap.h"

#include <cmath>

namespace xfer::viz {

const std::array<Rgb, 256>& viridis() {
  static const std::array<Rgb, 256> table = {{
#include "viridis.inc"
  }};
  return table;
}

int viridis_index(double t) {
  if (std::isnan(t)) return 0;
  const double scaled = std::floor(t * 256.0);
  if (scaled < 0) return 0;
  if (scaled > 255) return 255;
  return static_cast<int>(scaled);
}

}  // namespace xfer::viz

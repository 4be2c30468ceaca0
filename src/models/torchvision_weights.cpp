#include "xfer/models/torchvision_weights.h"

namespace xfer::models {

const std::vector<TorchvisionWeights>& torchvision_weights_table() {
  static const std::vector<TorchvisionWeights> table = {
#include "torchvision_weights.inc"
  };
  return table;
}

}  // namespace xfer::models

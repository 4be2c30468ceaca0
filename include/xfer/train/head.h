#pragma once
// The new head that transfer learning puts on a pretrained backbone.

#include "xfer/models/classifier.h"

#include <cstdint>
#include <string>
#include <vector>

namespace xfer::train {

/// Hidden widths of a head spec: `linear` has none; `mlp:512,256` has 512 and 256.
/// Throws InvalidArgument naming the accepted forms and what was given.
std::vector<int64_t> parse_head(const std::string& spec);

/// Replaces `model`'s head by the one `spec` describes, for `num_classes` classes: `linear` is
/// the model's own reset_head (torchvision's initialisation); `mlp:W1,...` is
/// Sequential(Linear(feature_dim, W1), ReLU, Dropout(dropout), ..., Linear(Wk, num_classes)),
/// whose keys (`fc.0.weight`, `fc.3.weight`, ...) are those of the same nn.Sequential in Python.
/// Throws InvalidArgument for a bad spec or num_classes < 1.
void set_head(models::ClassifierImpl& model, const std::string& spec, int64_t num_classes,
              double dropout);

}  // namespace xfer::train

#pragma once
// Swin Transformers V1 tiny, small, base (Liu et al. 2021) and V2 tiny, small, base (Liu et al.
// 2022), mirroring torchvision 0.14 torchvision/models/swin_transformer.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's SwinTransformer: `features` = {"0": patch embedding (4x4 convolution with stride
// 4, Permute to channels-last, LayerNorm), then four stages of shifted-window blocks ("1", "3",
// "5", "7"; windows 7x7 in V1, 8x8 in V2; every second block shifted by half a window) with patch
// merging between them ("2", "4", "6": 2x2 neighbours concatenated, 4C → 2C)}, `norm`, `permute`,
// `avgpool`, `flatten` and the head `head`. V1 adds a learned relative position bias to each
// window's attention logits; V2 uses cosine attention with a learned temperature, a position bias
// from a small MLP over log-spaced coordinates, and normalises after attention and MLP (post-norm)
// rather than before. Any image of at least one patch runs: windows and patch merging pad as
// torchvision's do. Initialised as torchvision (every Linear truncated-normal std 0.02, zero bias).
// Images [N,3,H,W] float32; stochastic depth as torchvision trains it (0.2, 0.3, 0.5 at the last
// block for t, s, b).

/// swin_t: width 96, depths 2-2-6-2, heads 3-6-12-24, window 7; features [N,768].
Classifier swin_t(const ModelOptions& options);
/// swin_s: width 96, depths 2-2-18-2; features [N,768].
Classifier swin_s(const ModelOptions& options);
/// swin_b: width 128, depths 2-2-18-2, heads 4-8-16-32; features [N,1024].
Classifier swin_b(const ModelOptions& options);
/// swin_v2_t: as swin_t in V2 blocks with window 8; features [N,768].
Classifier swin_v2_t(const ModelOptions& options);
/// swin_v2_s: as swin_s in V2 blocks with window 8; features [N,768].
Classifier swin_v2_s(const ModelOptions& options);
/// swin_v2_b: as swin_b in V2 blocks with window 8; features [N,1024].
Classifier swin_v2_b(const ModelOptions& options);

}  // namespace xfer::models

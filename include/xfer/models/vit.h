#pragma once
// Vision Transformers ViT-B/16, B/32, L/16, L/32 and H/14 (Dosovitskiy et al. 2020), mirroring
// torchvision 0.14 torchvision/models/vision_transformer.py.

#include "xfer/models/registry.h"

namespace xfer::models {

// torchvision's VisionTransformer: `conv_proj` (patch x patch convolution with stride patch to
// hidden_dim channels), `class_token` [1, 1, hidden], `encoder` {`pos_embedding` [1, 1 + (S/p)^2,
// hidden], `layers` of `encoder_layer_<i>` (ln_1, self_attention, ln_2, mlp: Linear, GELU,
// Dropout, Linear, Dropout; pre-norm residuals), `ln`} and `heads` {`head`}; the features are the
// class token's output of `encoder.ln`. Built for square images of side S =
// ModelOptions::image_size (create_model's default: its DEFAULT weights' size; pretrained weights
// bring their own), it also takes other sizes: the position embeddings of the patch grid are then
// interpolated bicubically to the input's grid, as timm and DINOv2 do (a side that the patch does
// not divide loses its last partial patch, as the strided convolution drops it). Initialised as
// torchvision (truncated-normal patch projection, position embeddings normal(0.02), zero class
// token and zero head). Images [N,3,H,W] float32.

/// vit_b_16: patch 16, 12 layers of width 768 with 12 heads, MLP 3072; features [N,768].
Classifier vit_b_16(const ModelOptions& options);
/// vit_b_32: patch 32, otherwise as vit_b_16; features [N,768].
Classifier vit_b_32(const ModelOptions& options);
/// vit_l_16: patch 16, 24 layers of width 1024 with 16 heads, MLP 4096; features [N,1024].
Classifier vit_l_16(const ModelOptions& options);
/// vit_l_32: patch 32, otherwise as vit_l_16; features [N,1024].
Classifier vit_l_32(const ModelOptions& options);
/// vit_h_14: patch 14, 32 layers of width 1280 with 16 heads, MLP 5120; features [N,1280].
Classifier vit_h_14(const ModelOptions& options);

}  // namespace xfer::models

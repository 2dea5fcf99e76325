// engine/image_types.h — the enums of the image geometry ops (engine/ops_geometry.h): how images
// are laid out, what a warp samples outside the source, how a heatmap is decoded to a point.
// A leaf header (it includes nothing) that kernels/ may include, like engine/error.h: the kernels
// take these enums as arguments.
#pragma once

namespace ff {

enum class ImageLayout : int {
  HWC,  // images [B, H, W, C]: channels interleaved (OpenCV, decoded photos)
  CHW,  // images [B, C, H, W]: channel planes (network inputs)
};

enum class BorderMode : int {
  Replicate,  // taps outside the image take the nearest edge pixel (cv2.BORDER_REPLICATE)
  Constant,   // taps outside the image take border_value (cv2.BORDER_CONSTANT)
};

enum class HeatmapDecode : int {
  // argmax, then a quarter-pixel step along each axis toward the larger of the two neighbours
  // (Newell et al., "Stacked Hourglass Networks", 2016, and its code). Error up to 0.25 px per axis.
  QuarterPixel,
  // the weighted mean of pixel positions in a (2 radius + 1)^2 window around the argmax (clipped
  // to the map), weights = heatmap values clipped at 0.
  SoftArgmax,
};

}  // namespace ff

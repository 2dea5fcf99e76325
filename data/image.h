// data/image.h — an 8-bit image in memory, PNG/JPEG decoding (libjpeg-turbo for JPEG, stb_image
// for PNG; no other format is read) and encoding (stb_image_write), and conversions to and from tensors. Drawing on
// images: report/draw.h.
//
// Pixels are uint8, rows top to bottom, interleaved channels (HWC); 1 channel (gray) or 3 (RGB).
// Pixel coordinates follow CelebA and OpenCV: pixel (x, y) has its centre at (x, y), so an image
// covers [-0.5, W - 0.5] x [-0.5, H - 0.5].
//
// Every failure (missing, empty, truncated or corrupt file, unwritable path) throws ff::Error whose
// message names the file and the reason.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ff {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;              // height * width * channels bytes, HWC

  Image() = default;
  Image(int width, int height, int channels, uint8_t fill = 0);  // checks the sizes

  bool empty() const { return pixels.empty(); }
  size_t size() const { return pixels.size(); }
  uint8_t* data() { return pixels.data(); }
  const uint8_t* data() const { return pixels.data(); }
  uint8_t& at(int x, int y, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t at(int x, int y, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  std::string str() const;  // "rgb 250x249" or "gray 5x4", for messages
};

// ---------------------------------------------------------------- decoding
// The largest photo read: at most kMaxImageSide pixels on a side and kMaxImagePixels in all (64
// megapixels, 192 MiB as RGB; CelebA's in-the-wild photos are under 4 megapixels). The size is
// checked from the file's header (JPEG frame header, PNG IHDR) before any pixel memory is taken,
// and a 0xN image is refused, so a small file declaring a huge picture costs nothing.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// A photo's size from its header alone (no decoding): the first bytes of a PNG, the segments of a
// JPEG up to its frame header. channels: what load_image(path, 0) would give (1 or 3). Refuses,
// naming the file, what load_image refuses by its header: not JPEG or PNG, no pixels, too large.
struct ImageSize {
  int width = 0, height = 0, channels = 0;
};
ImageSize image_size(const std::string& path);

// Reads a PNG or JPEG; any other format (BMP, GIF, PNM, TGA, ...) is refused with a message naming
// the file and the formats accepted. JPEGs go
// through libjpeg-turbo with its accurate IDCT and smooth chroma upsampling: the same pixels as
// PIL (tests/test_image.cpp JpegDecodingEqualsPil). channels: 3 gives RGB (gray is replicated,
// alpha dropped), 1 gives gray (ITU-R 601 luma as stb computes it; for a colour JPEG, its decoded
// luma plane), 0 keeps what the file stores (gray and gray+alpha -> 1, RGB and RGBA -> 3).
// A JPEG whose data ends before its end-of-image marker, or a PNG before its IEND chunk, is
// rejected as truncated.
Image load_image(const std::string& path, int channels = 3);
// The same from bytes in memory; `name` is what error messages call the data.
Image decode_image(const uint8_t* bytes, size_t n, const std::string& name, int channels = 3);
// A JPEG decoded at 1/denom of its size (denom 1, 2, 4 or 8) by libjpeg-turbo's scaled IDCT: the
// reduction happens in the DCT domain, so a photo much larger than the crop it feeds costs a
// fraction of a full decode (an 8x8 block becomes 4x4, 2x2 or 1x1 pixels). The scaled image is
// ceil(w / denom) x ceil(h / denom); its pixel i covers full-size pixels [i denom, (i + 1) denom),
// so a full-size point p maps to (p + 0.5) / denom - 0.5 (dct_scale_matrix). Other formats, and
// denom 1, decode in full (`denom_used` tells which happened).
Image decode_image_scaled(const uint8_t* bytes, size_t n, const std::string& name, int denom, int channels = 3,
                          int* denom_used = nullptr);
Image load_image_scaled(const std::string& path, int denom, int channels = 3, int* denom_used = nullptr);
// The largest of 8, 4, 2, 1 that is <= reduction (the photo pixels per output pixel a sample can
// spare): 1 for reduction < 2 or NaN.
int dct_denominator(double reduction);

// ---------------------------------------------------------------- encoding
// Writes PNG (lossless) or JPEG (quality 1..100; stb_image_write stores even a gray image as
// YCbCr, so it reads back with 3 channels unless 1 is asked for). The file is written to a temporary name beside
// the target and renamed, so a failed write never leaves a partial image under the target name.
void save_png(const Image& img, const std::string& path);
void save_jpeg(const Image& img, const std::string& path, int quality = 92);
// Chooses the format by extension: .png, .jpg or .jpeg (case-insensitive); anything else throws.
void save_image(const Image& img, const std::string& path, int jpeg_quality = 92);
std::vector<uint8_t> encode_png(const Image& img);
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 92);

// ---------------------------------------------------------------- conversions
Image to_channels(const Image& img, int channels);  // gray <-> RGB (luma 0.299 R + 0.587 G + 0.114 B)
// uint8 [H, W, C], a copy on the CPU.
Tensor image_to_tensor_hwc(const Image& img);
// t: uint8 [H, W, C] with C 1 or 3, any device.
Image image_from_tensor_hwc(const Tensor& t);
// float32 [C, H, W] with values pixel / 255 in [0, 1], on `device`.
Tensor image_to_tensor_chw(const Image& img, Device device = Device::cpu());
// t: float32 or float64 [C, H, W] with C 1 or 3, values in [0, 1] (any device): round(255 x),
// clamped to [0, 255].
Image image_from_tensor_chw(const Tensor& t);

}  // namespace ff

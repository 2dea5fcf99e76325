// data/image.cpp — Image, decoding and encoding: JPEG decoding by libjpeg-turbo (its TurboJPEG
// API, the accurate integer IDCT and smooth chroma upsampling, as PIL decodes, so our pixels equal
// the reference tools'), PNG by stb_image (its other formats compiled out), encoding by stb_image_write (the stb
// implementations are compiled here, once for the whole program); tensor conversions.
#include "data/image.h"

#include "engine/safetensors.h"  // write_file_atomic

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG              // JPEG goes through libjpeg-turbo; every other stb format is refused unread
#define STBI_MAX_DIMENSIONS 65535  // ours are tighter (kMaxImageSide); this is stb's own backstop
#define STBI_FAILURE_USERMSG       // "Corrupt JPEG" rather than "bad huffman code"-style shorthand
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop
#include <turbojpeg.h>

namespace ff {

namespace {

const char* kind_name(int c) { return c == 1 ? "gray" : c == 3 ? "rgb" : "?"; }

void check_image(const Image& img, const char* who) {
  FF_CHECK(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3) &&
               img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels,
           who, ": bad image (", img.width, "x", img.height, ", ", img.channels, " channels, ", img.pixels.size(),
           " bytes)");
}

// A JPEG cut short should be reported as truncated rather than as some inner decoding failure (and
// stb_image can accept a cut inside the last scan, filling the picture with grey), so we walk the
// marker structure ourselves and require the end-of-image marker. Returns an empty string when the
// structure is complete, else the reason.
std::string jpeg_structure_problem(const uint8_t* b, size_t n) {
  const std::string truncated = "truncated JPEG (the data ends before the end-of-image marker)";
  size_t i = 2;  // after SOI
  while (true) {
    while (i < n && b[i] != 0xFF) ++i;  // tolerate stray bytes between segments, as decoders do
    while (i < n && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return truncated;
    uint8_t m = b[i++];
    if (m == 0xD9) return "";                                          // EOI
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // markers without a length
    if (i + 2 > n) return truncated;
    size_t len = (static_cast<size_t>(b[i]) << 8) | b[i + 1];
    if (len < 2) return "corrupt JPEG (segment length " + std::to_string(len) + ")";
    if (i + len > n) return truncated;
    if (m == 0xC4) {  // DHT: tables of a class/id byte, 16 code counts, then that many symbols
      for (size_t t = i + 2, end = i + len; t < end;) {
        if (t + 17 > end) return "corrupt JPEG (a Huffman table (DHT) segment ends inside its 16 code counts)";
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += b[t + k];
        if (codes > 256)
          return "corrupt JPEG (a Huffman table (DHT) declares " + std::to_string(codes) +
                 " codes, at most 256 allowed)";
        if (t + 17 + codes > end) return "corrupt JPEG (a Huffman table (DHT) has more codes than its segment holds)";
        t += 17 + codes;
      }
    }
    i += len;
    if (m == 0xDA) {  // start of scan: entropy-coded data up to the next real marker
      while (true) {
        if (i + 1 >= n) return truncated;
        if (b[i] == 0xFF) {
          uint8_t next = b[i + 1];
          if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
            i += 2;
            continue;
          }  // stuffing, RSTn
          if (next == 0xFF) {
            ++i;
            continue;
          }
          break;  // a marker: the outer loop reads it
        }
        ++i;
      }
    }
  }
}

// The same for PNG: the chunk sequence must reach IEND.
std::string png_structure_problem(const uint8_t* b, size_t n) {
  const std::string truncated = "truncated PNG (the data ends before the IEND chunk)";
  size_t i = 8;  // after the signature
  while (true) {
    if (i + 8 > n) return truncated;
    size_t len = (static_cast<size_t>(b[i]) << 24) | (static_cast<size_t>(b[i + 1]) << 16) |
                 (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
    bool iend = std::memcmp(b + i + 4, "IEND", 4) == 0;
    if (len > n || i + 12 + len > n) return truncated;
    if (iend) return "";
    i += 12 + len;
  }
}

bool is_jpeg_data(const uint8_t* b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }
bool is_png_data(const uint8_t* b, size_t n) { return n >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0; }

// The refusal of a file that is neither JPEG nor PNG, saying what it looks like.
[[noreturn]] void refuse_format(const char* who, const std::string& name, const uint8_t* b, size_t n) {
  auto starts = [&](const char* sig, size_t k) { return n >= k && std::memcmp(b, sig, k) == 0; };
  std::string what;
  if (starts("BM", 2))
    what = "a BMP file";
  else if (starts("GIF87a", 6) || starts("GIF89a", 6))
    what = "a GIF file";
  else if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7')
    what = "a PNM/PGM/PPM file";
  else if (starts("8BPS", 4))
    what = "a PSD file";
  else if (starts("#?RADIANCE", 10) || starts("#?RGBE", 6))
    what = "an HDR file";
  else if (starts("II*\0", 4) || starts("MM\0*", 4))
    what = "a TIFF file";
  else if (n >= 12 && starts("RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0)
    what = "a WebP file";
  else if (n > 0 && ((n < 3 && starts("\xff\xd8", n < 2 ? n : 2)) || (n < 8 && starts("\x89PNG\r\n\x1a\n", n))))
    FF_FAIL(who, ": ", name, ": truncated file (", n, " bytes: the start of a JPEG or PNG, nothing more)");
  else {
    what = "not a JPEG or PNG file (it starts with";
    char hex[8];
    for (size_t i = 0; i < n && i < 4; ++i) {
      std::snprintf(hex, sizeof hex, " %02x", b[i]);
      what += hex;
    }
    what += ")";
  }
  FF_FAIL(who, ": ", name, ": ", what, "; only JPEG and PNG photos are read");
}

// The size a header declares, before anything is allocated for the pixels.
void check_declared_size(const char* who, const std::string& name, const char* format, int64_t w, int64_t h) {
  FF_CHECK(w > 0 && h > 0, who, ": ", name, ": the ", format, " header declares ", w, "x", h,
           " pixels (an image without pixels)");
  FF_CHECK(w <= kMaxImageSide && h <= kMaxImageSide && w * h <= kMaxImagePixels, who, ": ", name, ": the ", format,
           " header declares ", w, "x", h, " pixels; at most ", kMaxImageSide, " on a side and ", kMaxImagePixels,
           " in all (64 megapixels) are read");
}

// A PNG's IHDR (the first chunk: width, height, bit depth, colour type, ...), size checked.
ImageSize png_ihdr(const char* who, const std::string& name, const uint8_t* b, size_t n) {
  FF_CHECK(n >= 33 && std::memcmp(b + 12, "IHDR", 4) == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 13, who,
           ": ", name, ": corrupt PNG (the first chunk is not a 13-byte IHDR)");
  auto u32 = [&](size_t i) {
    return (int64_t{b[i]} << 24) | (int64_t{b[i + 1]} << 16) | (int64_t{b[i + 2]} << 8) | int64_t{b[i + 3]};
  };
  const int64_t w = u32(16), h = u32(20);
  check_declared_size(who, name, "PNG", w, h);
  const int color = b[25];  // 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
  return ImageSize{static_cast<int>(w), static_cast<int>(h), color == 0 || color == 4 ? 1 : 3};
}

// A JPEG's frame header (SOFn) read from the stream positioned after SOI, skipping the segments
// before it without reading them; size checked.
ImageSize jpeg_frame_size(std::istream& f, const std::string& path) {
  auto get = [&]() {
    const int c = f.get();
    if (c == EOF) FF_FAIL("image_size: ", path, ": truncated JPEG (the data ends before the frame header)");
    return c;
  };
  while (true) {
    if (get() != 0xFF) continue;  // stray bytes between segments
    int m = get();
    while (m == 0xFF) m = get();
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9 || m == 0xDA) FF_FAIL("image_size: ", path, ": corrupt JPEG (no frame header before the image data)");
    const int hi = get(), lo = get(), len = (hi << 8) | lo;
    if (len < 2) FF_FAIL("image_size: ", path, ": corrupt JPEG (segment length ", len, ")");
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {  // SOF0..SOF15
      if (len < 8) FF_FAIL("image_size: ", path, ": corrupt JPEG (frame header of ", len, " bytes)");
      get();  // sample precision
      const int h1 = get(), h0 = get(), w1 = get(), w0 = get(), components = get();
      const int w = (w1 << 8) | w0, h = (h1 << 8) | h0;
      check_declared_size("image_size", path, "JPEG", w, h);
      return ImageSize{w, h, components == 1 ? 1 : 3};
    }
    f.seekg(len - 2, std::ios::cur);
  }
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) FF_FAIL("load_image: ", path, ": is a directory, not an image file");
  std::ifstream f(path, std::ios::binary);
  if (!f) FF_FAIL("load_image: ", path, ": cannot open (", std::strerror(errno), ")");
  const auto size = std::filesystem::file_size(path, ec);  // decode_image's bound, before reading
  if (!ec && size > 0x7fffffff) FF_FAIL("load_image: ", path, ": file too large (", size, " bytes)");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) FF_FAIL("load_image: ", path, ": read error (", std::strerror(errno), ")");
  return bytes;
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {            // stb_image's own weights, so
  return static_cast<uint8_t>((r * 77 + g * 150 + b * 29) >> 8);  // both gray paths agree
}

std::string lower_ext(const std::string& path) {
  size_t dot = path.find_last_of('.');
  size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot);
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

}  // namespace

Image::Image(int w, int h, int c, uint8_t fill) : width(w), height(h), channels(c) {
  FF_CHECK(w > 0 && h > 0 && (c == 1 || c == 3), "Image: bad size ", w, "x", h, " with ", c,
           " channels (channels must be 1 or 3)");
  pixels.assign(static_cast<size_t>(w) * h * c, fill);
}

std::string Image::str() const { return detail::cat(kind_name(channels), " ", width, "x", height); }

namespace {

// A JPEG through libjpeg-turbo. Warnings (bytes the decoder skipped, as PIL also accepts) do not
// stop it; errors do, with the library's reason. A file cut short never gets here
// (jpeg_structure_problem has named it).
Image decode_jpeg_turbo(const uint8_t* bytes, size_t n, const std::string& name, int channels, int denom = 1) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  FF_CHECK(tj, "load_image: ", name, ": cannot start libjpeg-turbo (", tjGetErrorStr2(nullptr), ")");
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  unsigned char* src = const_cast<unsigned char*>(bytes);  // TurboJPEG 2 takes a non-const pointer
  auto size = static_cast<unsigned long>(n);
  if (tjDecompressHeader3(tj.get(), src, size, &w, &h, &subsamp, &colorspace) != 0)
    FF_FAIL("load_image: ", name, ": cannot decode JPEG (", tjGetErrorStr2(tj.get()), ")");
  check_declared_size("load_image", name, "JPEG", w, h);  // before the pixels are allocated
  const int want = channels != 0 ? channels : (colorspace == TJCS_GRAY ? 1 : 3);
  // Scaled: TurboJPEG picks the scaling factor from the size asked for (TJSCALED rounds up).
  const int sw = (w + denom - 1) / denom, sh = (h + denom - 1) / denom;
  Image img;
  img.width = sw;
  img.height = sh;
  img.channels = want;
  img.pixels.assign(static_cast<size_t>(sw) * sh * want, 0);
  if (tjDecompress2(tj.get(), src, size, img.pixels.data(), sw, sw * want, sh, want == 1 ? TJPF_GRAY : TJPF_RGB, 0) !=
          0 &&
      tjGetErrorCode(tj.get()) != TJERR_WARNING)
    FF_FAIL("load_image: ", name, ": cannot decode JPEG (", tjGetErrorStr2(tj.get()), ")");
  return img;
}

}  // namespace

Image decode_image(const uint8_t* bytes, size_t n, const std::string& name, int channels) {
  FF_CHECK(channels == 0 || channels == 1 || channels == 3, "decode_image: ", name,
           ": channels must be 0, 1 or 3, got ", channels);
  FF_CHECK(n > 0, "load_image: ", name, ": file is empty");
  FF_CHECK(n <= 0x7fffffff, "load_image: ", name, ": file too large (", n, " bytes)");
  // Structure first: a file cut short is then reported as such, not as a generic decode failure.
  const bool is_jpeg = is_jpeg_data(bytes, n), is_png = is_png_data(bytes, n);
  if (!is_jpeg && !is_png) refuse_format("load_image", name, bytes, n);
  std::string problem = is_jpeg ? jpeg_structure_problem(bytes, n) : png_structure_problem(bytes, n);
  if (!problem.empty()) FF_FAIL("load_image: ", name, ": ", problem);
  if (is_jpeg) return decode_jpeg_turbo(bytes, n, name, channels);
  png_ihdr("load_image", name, bytes, n);  // the declared size, before stb_image allocates
  int w = 0, h = 0, stored = 0;
  if (!stbi_info_from_memory(bytes, static_cast<int>(n), &w, &h, &stored))
    FF_FAIL("load_image: ", name, ": cannot decode (", stbi_failure_reason(), ")");
  int want = channels != 0 ? channels : (stored <= 2 ? 1 : 3);
  stbi_uc* p = stbi_load_from_memory(bytes, static_cast<int>(n), &w, &h, &stored, want);
  if (!p) FF_FAIL("load_image: ", name, ": cannot decode (", stbi_failure_reason(), ")");
  std::unique_ptr<stbi_uc, void (*)(void*)> hold(p, stbi_image_free);
  Image img;
  img.width = w;
  img.height = h;
  img.channels = want;
  img.pixels.assign(p, p + static_cast<size_t>(w) * h * want);
  return img;
}

Image load_image(const std::string& path, int channels) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path, channels);
}

ImageSize image_size(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) FF_FAIL("image_size: ", path, ": is a directory, not an image file");
  std::ifstream f(path, std::ios::binary);
  if (!f) FF_FAIL("image_size: ", path, ": cannot open (", std::strerror(errno), ")");
  uint8_t head[33] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  const auto got = static_cast<size_t>(f.gcount());
  FF_CHECK(got > 0, "image_size: ", path, ": file is empty");
  if (is_png_data(head, got)) return png_ihdr("image_size", path, head, got);
  if (!is_jpeg_data(head, got)) refuse_format("image_size", path, head, got);
  f.clear();
  f.seekg(2);
  return jpeg_frame_size(f, path);
}

int dct_denominator(double reduction) {
  for (int d : {8, 4, 2})
    if (reduction >= d) return d;
  return 1;
}

Image decode_image_scaled(const uint8_t* bytes, size_t n, const std::string& name, int denom, int channels,
                          int* denom_used) {
  FF_CHECK(denom == 1 || denom == 2 || denom == 4 || denom == 8, "decode_image_scaled: ", name,
           ": denominator must be 1, 2, 4 or 8, got ", denom);
  const bool is_jpeg = is_jpeg_data(bytes, n);
  if (denom_used) *denom_used = is_jpeg ? denom : 1;
  if (!is_jpeg || denom == 1) return decode_image(bytes, n, name, channels);
  FF_CHECK(channels == 0 || channels == 1 || channels == 3, "decode_image_scaled: ", name,
           ": channels must be 0, 1 or 3, got ", channels);
  FF_CHECK(n <= 0x7fffffff, "load_image: ", name, ": file too large (", n, " bytes)");
  const std::string problem = jpeg_structure_problem(bytes, n);
  if (!problem.empty()) FF_FAIL("load_image: ", name, ": ", problem);
  return decode_jpeg_turbo(bytes, n, name, channels, denom);
}

Image load_image_scaled(const std::string& path, int denom, int channels, int* denom_used) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image_scaled(bytes.data(), bytes.size(), path, denom, channels, denom_used);
}

std::vector<uint8_t> encode_png(const Image& img) {
  check_image(img, "encode_png");
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, img.width, img.height, img.channels, img.data(),
                              img.width * img.channels))
    FF_FAIL("encode_png: stb_image_write failed for ", img.str());
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  check_image(img, "encode_jpeg");
  FF_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality must be in 1..100, got ", quality);
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(append_bytes, &out, img.width, img.height, img.channels, img.data(), quality))
    FF_FAIL("encode_jpeg: stb_image_write failed for ", img.str());
  return out;
}

void save_png(const Image& img, const std::string& path) {
  const std::vector<uint8_t> bytes = encode_png(img);
  write_file_atomic(path, bytes.data(), bytes.size(), "save_png");
}

void save_jpeg(const Image& img, const std::string& path, int quality) {
  const std::vector<uint8_t> bytes = encode_jpeg(img, quality);
  write_file_atomic(path, bytes.data(), bytes.size(), "save_jpeg");
}

void save_image(const Image& img, const std::string& path, int jpeg_quality) {
  std::string e = lower_ext(path);
  if (e == ".png") return save_png(img, path);
  if (e == ".jpg" || e == ".jpeg") return save_jpeg(img, path, jpeg_quality);
  FF_FAIL("save_image: ", path, ": unknown extension (use .png, .jpg or .jpeg)");
}

Image to_channels(const Image& img, int channels) {
  check_image(img, "to_channels");
  FF_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, got ", channels);
  if (img.channels == channels) return img;
  Image out(img.width, img.height, channels);
  size_t n = static_cast<size_t>(img.width) * img.height;
  const uint8_t* s = img.data();
  uint8_t* d = out.data();
  if (channels == 1) {
    for (size_t i = 0; i < n; ++i) d[i] = luma(s[3 * i], s[3 * i + 1], s[3 * i + 2]);
  } else {
    for (size_t i = 0; i < n; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
  }
  return out;
}

Tensor image_to_tensor_hwc(const Image& img) {
  check_image(img, "image_to_tensor_hwc");
  Tensor t = Tensor::empty({img.height, img.width, img.channels}, DType::U8);
  std::memcpy(t.raw(), img.data(), img.size());
  return t;
}

Image image_from_tensor_hwc(const Tensor& t) {
  FF_CHECK(t.defined() && t.dtype() == DType::U8 && t.dim() == 3 && (t.size(2) == 1 || t.size(2) == 3) &&
               t.size(0) > 0 && t.size(1) > 0,
           "image_from_tensor_hwc: expected uint8 [H, W, C] with C 1 or 3, got ",
           t.defined() ? t.str() : std::string("an undefined tensor"));
  Tensor c = t.cpu();
  Image img(static_cast<int>(t.size(1)), static_cast<int>(t.size(0)), static_cast<int>(t.size(2)));
  std::memcpy(img.data(), c.raw(), img.size());
  return img;
}

Tensor image_to_tensor_chw(const Image& img, Device device) {
  check_image(img, "image_to_tensor_chw");
  const int C = img.channels, HW = img.width * img.height;
  Tensor t = Tensor::empty({C, img.height, img.width}, DType::F32);
  float* d = t.data<float>();
  const uint8_t* s = img.data();
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < HW; ++i)
      d[static_cast<size_t>(c) * HW + i] = s[static_cast<size_t>(i) * C + c] * (1.0f / 255.0f);
  return device.is_cpu() ? t : t.to(device);
}

Image image_from_tensor_chw(const Tensor& t) {
  FF_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 3 && (t.size(0) == 1 || t.size(0) == 3) &&
               t.size(1) > 0 && t.size(2) > 0,
           "image_from_tensor_chw: expected float [C, H, W] with C 1 or 3, got ",
           t.defined() ? t.str() : std::string("an undefined tensor"));
  std::vector<double> v = t.to_vector<double>();
  const int C = static_cast<int>(t.size(0)), H = static_cast<int>(t.size(1)), W = static_cast<int>(t.size(2));
  const size_t HW = static_cast<size_t>(H) * W;
  Image img(W, H, C);
  for (int c = 0; c < C; ++c)
    for (size_t i = 0; i < HW; ++i) {
      double x = std::round(v[c * HW + i] * 255.0);
      img.pixels[i * C + c] = static_cast<uint8_t>(!(x > 0) ? 0 : x > 255 ? 255 : x);  // NaN -> 0
    }
  return img;
}

}  // namespace ff

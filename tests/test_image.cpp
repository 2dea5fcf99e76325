// tests/test_image.cpp — Image: decoding files written by an independent encoder (OpenCV, see
// tests/data/images/make_images.py), PNG/JPEG round trips, errors for missing, empty, garbage and
// truncated files, tensor conversions.
// Run: ./build-cpu/ff_tests --gtest_filter='Image*'
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/random.h"
#include "data/image.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace ff;

namespace {

const std::string kDir = std::string(FF_SOURCE_DIR) + "/tests/data/images/";

using TempDir = ::ff::test::TempDir;

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The formulas of make_images.py.
uint8_t rgb_pattern(int x, int y, int c) {
  return static_cast<uint8_t>(c == 0 ? (x * 30 + 10) % 256 : c == 1 ? (y * 40 + 5) % 256 : (x * y * 7) % 256);
}
double smooth_pattern(int x, int y, int c) {
  double v = c == 0 ? 128 + 100 * std::sin(x / 7.0) : c == 1 ? 128 + 100 * std::cos(y / 5.0) : 60 + 3.0 * (x + y);
  return std::min(255.0, std::max(0.0, std::round(v)));
}

Image random_image(int w, int h, int c, uint64_t seed) {
  Rng rng(seed);
  Image img(w, h, c);
  for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(rng.next_u32() & 255);
  return img;
}

Image smooth_image(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = static_cast<uint8_t>(smooth_pattern(x, y, c));
  return img;
}

// Mean and max absolute difference between two images of the same size.
std::pair<double, int> diff(const Image& a, const Image& b) {
  double sum = 0;
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int d = std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
    sum += d;
    worst = std::max(worst, d);
  }
  return {sum / static_cast<double>(a.size()), worst};
}

// Expects fn() to throw ff::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown (expected one mentioning " << parts.front() << ")";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

}  // namespace

TEST(Image, DecodesPngWrittenByOpenCV) {
  Image rgb = load_image(kDir + "rgb_7x5.png");
  ASSERT_EQ(rgb.width, 7);
  ASSERT_EQ(rgb.height, 5);
  ASSERT_EQ(rgb.channels, 3);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb.at(x, y, c), rgb_pattern(x, y, c)) << x << "," << y << "," << c;

  Image gray = load_image(kDir + "gray_6x4.png", 0);  // as stored: one channel
  ASSERT_EQ(gray.channels, 1);
  ASSERT_EQ(gray.width, 6);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) EXPECT_EQ(gray.at(x, y, 0), x * 40 + y * 3);
  Image gray3 = load_image(kDir + "gray_6x4.png", 3);  // replicated
  ASSERT_EQ(gray3.channels, 3);
  EXPECT_EQ(gray3.at(5, 3, 0), 209);
  EXPECT_EQ(gray3.at(5, 3, 2), 209);

  Image rgba = load_image(kDir + "rgba_3x2.png", 0);  // alpha dropped, colour kept
  ASSERT_EQ(rgba.channels, 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(rgba.at(x, y, c), rgb_pattern(x, y, c));

  // Our gray conversion agrees with stb's own.
  Image g_stb = load_image(kDir + "rgb_7x5.png", 1);
  EXPECT_EQ(to_channels(rgb, 1).pixels, g_stb.pixels);
  EXPECT_EQ(rgb.str(), "rgb 7x5");
}

TEST(Image, DecodesJpegWrittenByOpenCV) {
  for (const char* name : {"smooth_48x32.jpg", "smooth_48x32_progressive.jpg"}) {
    Image img = load_image(kDir + name);
    ASSERT_EQ(img.width, 48) << name;
    ASSERT_EQ(img.height, 32) << name;
    Image expect = smooth_image(48, 32);
    auto [mean, worst] = diff(img, expect);
    EXPECT_LT(mean, 2.0) << name;  // quality 95 on a smooth pattern with 4:2:0 chroma
    EXPECT_LE(worst, 16) << name;
  }
}

// Our JPEG decoding (libjpeg-turbo) gives exactly PIL's pixels (tools/make_jpeg_reference.py):
// facenet-pytorch's MTCNN and the PyTorch recipes read photos through PIL, so parity with them
// starts from the same bytes. The photos of ../shared/data are checked where that folder exists.
TEST(Image, JpegDecodingEqualsPil) {
  std::ifstream f(std::string(FF_SOURCE_DIR) + "/tests/data/images/pil_decoded.json");
  ASSERT_TRUE(f.good());
  const nlohmann::json ref = nlohmann::json::parse(f);
  int checked = 0;
  for (const auto& [file, want] : ref.items()) {
    const std::string path = std::string(FF_SOURCE_DIR) + "/" + file;
    if (!std::filesystem::exists(path)) {
      ASSERT_NE(file.find("../shared/"), std::string::npos) << "missing committed file " << path;
      continue;
    }
    const Image img = load_image(path, 3);
    ASSERT_EQ(img.width, want["width"].get<int>()) << file;
    ASSERT_EQ(img.height, want["height"].get<int>()) << file;
    uint64_t h = 0xCBF29CE484222325ull;
    for (uint8_t b : img.pixels) h = (h ^ b) * 0x100000001B3ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    EXPECT_EQ(std::string(hex), want["fnv1a64"].get<std::string>()) << file << ": pixels differ from PIL's";
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

TEST(Image, PngRoundTripIsExact) {
  TempDir tmp;
  for (int c : {1, 3}) {
    Image img = random_image(13, 11, c, 7 + c);
    std::string p = tmp.file("rt" + std::to_string(c) + ".png");
    save_png(img, p);
    Image back = load_image(p, 0);
    EXPECT_EQ(back.width, 13);
    EXPECT_EQ(back.height, 11);
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.pixels, img.pixels);
    EXPECT_FALSE(fs::exists(p + ".tmp"));
  }
  // save_image picks the format by extension.
  Image img = random_image(5, 4, 3, 1);
  save_image(img, tmp.file("x.PNG"));
  EXPECT_EQ(load_image(tmp.file("x.PNG")).pixels, img.pixels);
}

TEST(Image, JpegRoundTripIsClose) {
  TempDir tmp;
  Image img = smooth_image(64, 40);
  save_jpeg(img, tmp.file("a.jpg"), 95);
  Image back = load_image(tmp.file("a.jpg"));
  ASSERT_EQ(back.width, 64);
  ASSERT_EQ(back.height, 40);
  auto [mean, worst] = diff(back, img);
  EXPECT_LT(mean, 2.0);
  EXPECT_LE(worst, 16);
  // Lower quality is further away, but still the same picture.
  save_image(img, tmp.file("b.jpeg"), 30);
  auto [mean30, worst30] = diff(load_image(tmp.file("b.jpeg")), img);
  EXPECT_GT(mean30, mean);
  EXPECT_LT(mean30, 8.0);
  (void)worst30;
  // A gray image reads back as gray when asked (stb_image_write stores it as colour).
  Image g = to_channels(img, 1);
  save_jpeg(g, tmp.file("g.jpg"), 95);
  Image gb = load_image(tmp.file("g.jpg"), 1);
  EXPECT_EQ(gb.channels, 1);
  EXPECT_LT(diff(gb, g).first, 2.0);
}

TEST(Image, BadFilesRaiseErrorsNamingTheFile) {
  TempDir tmp;
  std::vector<uint8_t> jpg = read_bytes(kDir + "smooth_48x32.jpg");
  std::vector<uint8_t> prog = read_bytes(kDir + "smooth_48x32_progressive.jpg");
  std::vector<uint8_t> png = encode_png(random_image(40, 30, 3, 3));
  ASSERT_GT(jpg.size(), 400u);

  std::string missing = tmp.file("no_such.jpg");
  expect_error([&] { load_image(missing); }, {missing, "cannot open", "No such file"});

  expect_error([&] { load_image(tmp.path.string()); }, {tmp.path.string(), "directory"});

  std::string empty = tmp.file("empty.jpg");
  write_bytes(empty, {});
  expect_error([&] { load_image(empty); }, {empty, "empty"});

  std::string garbage = tmp.file("garbage.png");
  std::vector<uint8_t> junk(500);
  Rng rng(5);
  for (uint8_t& b : junk) b = static_cast<uint8_t>(rng.next_u32());
  write_bytes(garbage, junk);
  expect_error([&] { load_image(garbage); }, {garbage, "not a JPEG or PNG file", "only JPEG and PNG"});

  std::string head = tmp.file("head100.jpg");  // the first 100 bytes of a real JPEG
  write_bytes(head, std::vector<uint8_t>(jpg.begin(), jpg.begin() + 100));
  expect_error([&] { load_image(head); }, {head, "truncated JPEG"});

  // Cut inside the entropy-coded data: stb_image alone would decode this without complaint.
  std::string cut = tmp.file("cut.jpg");
  write_bytes(cut, std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() * 8 / 10));
  expect_error([&] { load_image(cut); }, {cut, "truncated JPEG"});
  std::string cutp = tmp.file("cut_progressive.jpg");
  write_bytes(cutp, std::vector<uint8_t>(prog.begin(), prog.end() - 2));  // only EOI missing
  expect_error([&] { load_image(cutp); }, {cutp, "truncated JPEG"});

  std::string cutpng = tmp.file("cut.png");
  write_bytes(cutpng, std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  expect_error([&] { load_image(cutpng); }, {cutpng});
  std::string noend = tmp.file("noend.png");  // all pixel data there, IEND chunk missing
  write_bytes(noend, std::vector<uint8_t>(png.begin(), png.end() - 12));
  expect_error([&] { load_image(noend); }, {noend, "truncated PNG"});

  // The untouched files decode (the checks above fail for the cut, not for the format).
  EXPECT_EQ(decode_image(jpg.data(), jpg.size(), "jpg").width, 48);
  EXPECT_EQ(decode_image(prog.data(), prog.size(), "prog").width, 48);
  EXPECT_EQ(decode_image(png.data(), png.size(), "png").width, 40);
  // Bytes after the end-of-image marker are allowed (some cameras append data).
  std::vector<uint8_t> tail = jpg;
  tail.insert(tail.end(), {1, 2, 3, 0xFF, 0xD8});
  EXPECT_EQ(decode_image(tail.data(), tail.size(), "tail").height, 32);

  expect_error([&] { decode_image(jpg.data(), jpg.size(), "x", 2); }, {"channels"});
}

// ---------------------------------------------------------------- hostile headers (issue 13)
namespace {

// The offset of the first segment with marker `m` (its length field) in a JPEG.
size_t jpeg_segment(const std::vector<uint8_t>& b, uint8_t m) {
  size_t i = 2;
  while (i + 4 < b.size()) {
    if (b[i] != 0xFF) return 0;
    const uint8_t mk = b[i + 1];
    if (mk == m) return i + 2;
    i += 2 + ((static_cast<size_t>(b[i + 2]) << 8) | b[i + 3]);
  }
  return 0;
}

// A real JPEG whose frame header (SOF0) declares w x h pixels; its data stays that of 48x32.
std::vector<uint8_t> jpeg_declaring(int w, int h) {
  std::vector<uint8_t> b = read_bytes(kDir + "smooth_48x32.jpg");
  const size_t sof = jpeg_segment(b, 0xC0);
  EXPECT_GT(sof, 0u) << "no SOF0 in smooth_48x32.jpg";
  b[sof + 3] = static_cast<uint8_t>(h >> 8);
  b[sof + 4] = static_cast<uint8_t>(h);
  b[sof + 5] = static_cast<uint8_t>(w >> 8);
  b[sof + 6] = static_cast<uint8_t>(w);
  return b;
}

// A real PNG whose IHDR declares w x h (the CRC no longer matches: the refusal must come first).
std::vector<uint8_t> png_declaring(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = encode_png(Image(4, 3, 3, 7));
  for (int k = 0; k < 4; ++k) {
    b[16 + k] = static_cast<uint8_t>(w >> (24 - 8 * k));
    b[20 + k] = static_cast<uint8_t>(h >> (24 - 8 * k));
  }
  return b;
}

}  // namespace

TEST(Image, OversizedHeadersAreRefusedBeforeDecoding) {
  TempDir tmp;
  // 26000 x 26000: over the side limit and the pixel limit; 16000 x 16000: within the side limit,
  // 256 megapixels (it used to decode: 20 s and 1.5 GB for two of them in `faceforge verify`).
  for (int side : {26000, 16000}) {
    const std::string p = tmp.file("huge" + std::to_string(side) + ".jpg");
    write_bytes(p, jpeg_declaring(side, side));
    const std::string dims = std::to_string(side) + "x" + std::to_string(side);
    const std::vector<std::string> parts = {p, "JPEG header declares " + dims, "at most 16384 on a side and 67108864"};
    expect_error([&] { load_image(p); }, parts);
    expect_error([&] { load_image_scaled(p, 8); }, parts);  // the scaled decode is bounded by the full size
    expect_error([&] { load_image_scaled(p, 1); }, parts);
    expect_error([&] { image_size(p); }, parts);
  }
  EXPECT_EQ(kMaxImagePixels, int64_t{1} << 26);
  // A frame without pixels.
  const std::string zero = tmp.file("zero.jpg");
  write_bytes(zero, jpeg_declaring(48, 0));
  expect_error([&] { image_size(zero); }, {zero, "declares 48x0 pixels", "without pixels"});
  expect_error([&] { load_image(zero); }, {zero});
  // PNG: the IHDR is read before stb_image sees the data (no zlib stream needs to exist).
  for (auto [w, h] : {std::pair<uint32_t, uint32_t>{60000, 60000}, {20000, 15000}, {10000, 7000}, {0xFFFFFFFF, 1}}) {
    const std::string p = tmp.file("big" + std::to_string(w) + ".png");
    write_bytes(p, png_declaring(w, h));
    const std::vector<std::string> parts = {p, "PNG header declares " + std::to_string(w) + "x" + std::to_string(h)};
    expect_error([&] { load_image(p); }, parts);
    expect_error([&] { load_image_scaled(p, 4); }, parts);
    expect_error([&] { image_size(p); }, parts);
  }
  const std::string zpng = tmp.file("zero.png");
  write_bytes(zpng, png_declaring(0, 10));
  expect_error([&] { load_image(zpng); }, {zpng, "declares 0x10 pixels", "without pixels"});
  expect_error([&] { image_size(zpng); }, {zpng, "declares 0x10 pixels"});
  // Just within the limits the header check passes (the 4x3 data then fails to decode, as it should).
  const std::string edge = tmp.file("edge.png");
  write_bytes(edge, png_declaring(16384, 4096));
  EXPECT_EQ(image_size(edge).width, 16384);
  expect_error([&] { load_image(edge); }, {edge, "cannot decode"});
}

TEST(Image, OnlyJpegAndPngAreRead) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> files = {
      {"a.pgm", std::string("P5\n2 2\n255\n") + std::string(4, '\x80')},
      {"a.ppm", std::string("P6\n1 1\n255\n") + std::string(3, '\x10')},
      {"a.bmp", std::string("BM") + std::string(60, '\0')},
      {"a.gif", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
      {"a.hdr", std::string("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 0 +X 5\n")}};
  const char* what[] = {"a PNM/PGM/PPM file", "a PNM/PGM/PPM file", "a BMP file", "a GIF file", "an HDR file"};
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string p = tmp.write(files[i].first, files[i].second);
    expect_error([&] { load_image(p); }, {p, what[i], "only JPEG and PNG photos are read"});
    expect_error([&] { load_image_scaled(p, 2); }, {p, what[i]});
    expect_error([&] { image_size(p); }, {p, what[i], "only JPEG and PNG"});
  }
}

TEST(Image, HuffmanTableWithTooManyCodesIsRefusedBeforeDecoding) {
  // stb_image's JPEG decoder wrote out of bounds on a DHT whose 16 counts sum past 256; it is
  // compiled out now, and the marker walk refuses such a table before any decoder runs.
  std::vector<uint8_t> b = read_bytes(kDir + "smooth_48x32.jpg");
  const size_t dht = jpeg_segment(b, 0xC4);
  ASSERT_GT(dht, 0u);
  for (int k = 0; k < 16; ++k) b[dht + 3 + k] = 0;
  b[dht + 3 + 7] = 200;  // 200 + 100 codes of length 8 and 9: 300 > 256 (more than the segment holds too)
  b[dht + 3 + 8] = 100;
  expect_error([&] { decode_image(b.data(), b.size(), "dht.jpg"); },
               {"dht.jpg", "Huffman table (DHT) declares 300 codes, at most 256"});
  for (int denom : {1, 2, 8})
    expect_error([&] { decode_image_scaled(b.data(), b.size(), "dht.jpg", denom); }, {"dht.jpg", "declares 300 codes"});
}

TEST(Image, SizeFromTheHeaderMatchesTheDecodedImage) {
  for (const char* f :
       {"smooth_48x32.jpg", "smooth_48x32_progressive.jpg", "gray_6x4.png", "rgb_7x5.png", "rgba_3x2.png"}) {
    const ImageSize s = image_size(kDir + f);
    const Image img = load_image(kDir + f, 0);
    EXPECT_EQ(s.width, img.width) << f;
    EXPECT_EQ(s.height, img.height) << f;
    EXPECT_EQ(s.channels, img.channels) << f;
  }
  TempDir tmp;
  save_jpeg(Image(9, 5, 1, 100), tmp.file("g.jpg"));
  EXPECT_EQ(image_size(tmp.file("g.jpg")).channels, load_image(tmp.file("g.jpg"), 0).channels);
  expect_error([&] { image_size(tmp.file("none.jpg")); }, {"none.jpg", "cannot open"});
  expect_error([&] { image_size(tmp.write("e.jpg", "")); }, {"e.jpg", "empty"});
  std::vector<uint8_t> jpg = read_bytes(kDir + "smooth_48x32.jpg");
  write_bytes(tmp.file("cut.jpg"), std::vector<uint8_t>(jpg.begin(), jpg.begin() + 40));  // before the SOF
  expect_error([&] { image_size(tmp.file("cut.jpg")); }, {"cut.jpg", "truncated JPEG"});
}

TEST(Image, WriteErrorsNameThePath) {
  TempDir tmp;
  Image img = random_image(4, 4, 3, 2);
  std::string bad = tmp.file("no_dir/x.png");
  expect_error([&] { save_png(img, bad); }, {bad, "cannot open"});
  expect_error([&] { save_image(img, tmp.file("x.bmp")); }, {"x.bmp", "extension"});
  expect_error([&] { save_jpeg(img, tmp.file("q.jpg"), 0); }, {"quality"});
  Image broken = img;
  broken.pixels.pop_back();
  expect_error([&] { encode_png(broken); }, {"encode_png", "bad image"});
  expect_error([&] { Image(0, 3, 3); }, {"Image", "bad size"});
  expect_error([&] { Image(3, 3, 2); }, {"channels"});
}

TEST(Image, TensorConversions) {
  Image img = random_image(5, 3, 3, 11);
  Tensor hwc = image_to_tensor_hwc(img);
  EXPECT_EQ(hwc.dtype(), DType::U8);
  EXPECT_EQ(hwc.shape(), (Shape{3, 5, 3}));
  EXPECT_EQ(hwc.to_vector<uint8_t>(), img.pixels);
  EXPECT_EQ(image_from_tensor_hwc(hwc).pixels, img.pixels);

  Tensor chw = image_to_tensor_chw(img);
  EXPECT_EQ(chw.dtype(), DType::F32);
  EXPECT_EQ(chw.shape(), (Shape{3, 3, 5}));
  std::vector<float> v = chw.to_vector<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 5; ++x) ASSERT_FLOAT_EQ(v[(c * 3 + y) * 5 + x], img.at(x, y, c) / 255.0f);
  Image back = image_from_tensor_chw(chw);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_EQ(image_from_tensor_chw(chw.to(DType::F64)).pixels, img.pixels);

  Image g = random_image(4, 2, 1, 12);
  EXPECT_EQ(image_to_tensor_chw(g).shape(), (Shape{1, 2, 4}));
  EXPECT_EQ(image_from_tensor_chw(image_to_tensor_chw(g)).pixels, g.pixels);

  // Out-of-range floats clamp; NaN becomes 0.
  Tensor odd = Tensor::from_vector<float>({-0.5f, 2.0f, NAN}, {1, 1, 3});
  EXPECT_EQ(image_from_tensor_chw(odd).pixels, (std::vector<uint8_t>{0, 255, 0}));

  expect_error([&] { image_from_tensor_hwc(chw); }, {"image_from_tensor_hwc", chw.str()});
  expect_error([&] { image_from_tensor_hwc(Tensor::zeros({2, 2, 2}, DType::U8)); }, {"[2, 2, 2]"});
  expect_error([&] { image_from_tensor_chw(hwc); }, {"image_from_tensor_chw", hwc.str()});
  expect_error([&] { image_from_tensor_chw(Tensor::zeros({4, 2, 2})); }, {"[4, 2, 2]"});
  expect_error([&] { image_from_tensor_chw(Tensor()); }, {"undefined"});
}

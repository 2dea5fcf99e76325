// tests/fuzz/targets.cpp — the fuzz targets of targets.h.
#include "tests/fuzz/targets.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/celeba.h"
#include "data/image.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "models/detector.h"
#include "models/factory.h"
#include "models/hourglass.h"
#include "models/resnet.h"

// A promise broken: print it and abort (libFuzzer records the input as a crash).
#define FF_FUZZ_ASSERT(cond, what)                                                                \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "fuzz target: %s:%d: broken promise: %s\n", __FILE__, __LINE__, what); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

namespace ff::fuzz {

Outcome& last_outcome() {
  static Outcome o;
  return o;
}

namespace {

// Runs f; an ff::Error is a refusal, which is fine. Its message must not be empty.
// FF_FUZZ_VERBOSE=1 prints each refusal (to see why a corpus file is refused).
template <typename F>
void refusal_ok(F&& f) {
  static const bool verbose = std::getenv("FF_FUZZ_VERBOSE") != nullptr;
  Outcome& out = last_outcome();
  try {
    f();
    ++out.accepted;
    if (verbose) std::fprintf(stderr, "fuzz target: accepted\n");
  } catch (const Error& e) {
    FF_FUZZ_ASSERT(e.what() != nullptr && e.what()[0] != '\0', "an ff::Error with an empty message");
    if (out.refused++ == 0) out.first_refusal = e.what();
    if (verbose) std::fprintf(stderr, "fuzz target: refused: %.300s\n", e.what());
  }
}

// The bytes a tensor holds, summed: reading every one of them (ASan sees a view past its buffer).
uint64_t touch(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  uint64_t s = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) s += p[i];
  return s;
}

bool same_file(const SafeTensors& a, const SafeTensors& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i].second, &y = b.tensors[i].second;
    if (a.tensors[i].first != b.tensors[i].first || x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
    if (x.nbytes() && std::memcmp(x.raw(), y.raw(), x.nbytes()) != 0) return false;
  }
  return true;
}

// A folder of this process for the files the CelebA readers read (removed at exit).
struct Scratch {
  std::string dir;
  Scratch() {
    dir = (std::filesystem::temp_directory_path() / ("ff_fuzz_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir + "/img_celeba");
    for (const char* name : {"000001.jpg", "000002.jpg", "000003.jpg"}) std::ofstream(dir + "/img_celeba/" + name);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void put(const std::string& name, const std::string& bytes) const {
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
};
const Scratch& scratch() {
  static Scratch s;
  return s;
}

}  // namespace

void safetensors(const uint8_t* data, size_t size) {
  last_outcome() = {};
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  refusal_ok([&] {
    SafeTensors st = parse_safetensors(bytes, "fuzz input");
    uint64_t sum = 0;
    for (auto& [name, t] : st.tensors) sum += touch(t);
    (void)sum;
    // What was read can be written, and reads back the same (a file we refuse to write would
    // be one we read but cannot save again: a broken contract).
    const std::string again = serialize_safetensors(st.tensors, st.metadata);
    const SafeTensors back = parse_safetensors(again, "fuzz input, written again");
    FF_FUZZ_ASSERT(same_file(st, back), "a file read, written and read again differs");
  });
}

void model(const uint8_t* data, size_t size) {
  last_outcome() = {};
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  SafeTensors st;
  try {
    st = parse_safetensors(bytes, "fuzz input");
  } catch (const Error&) {
    return;
  }
  bool checked = false, loaded = false;
  refusal_ok([&] {
    check_model_file(st, "fuzz input");
    checked = true;
  });
  refusal_ok([&] {
    LoadedModel lm = load_model(st, "fuzz input");
    loaded = lm.module != nullptr;
  });
  FF_FUZZ_ASSERT(!loaded || checked, "load_model accepted a file check_model_file refuses");
}

void image(const uint8_t* data, size_t size) {
  last_outcome() = {};
  if (size < 1) return;
  const int pick = data[0];
  const int channels = (pick & 3) == 3 ? 3 : (pick & 3);  // 0, 1, 2->2 (refused), 3
  const int denom = 1 << ((pick >> 2) & 3);               // 1, 2, 4, 8
  const uint8_t* bytes = data + 1;
  const size_t n = size - 1;
  auto check = [&](const Image& img) {
    FF_FUZZ_ASSERT(img.width > 0 && img.height > 0, "a decoded image without pixels");
    FF_FUZZ_ASSERT(
        img.width <= kMaxImageSide && img.height <= kMaxImageSide && int64_t{img.width} * img.height <= kMaxImagePixels,
        "a decoded image larger than the bounds");
    FF_FUZZ_ASSERT(img.channels == 1 || img.channels == 3, "a decoded image with 2 or 4 channels");
    FF_FUZZ_ASSERT(channels == 0 || img.channels == channels, "not the channels asked for");
    FF_FUZZ_ASSERT(img.pixels.size() == size_t(img.width) * img.height * img.channels, "pixels do not match the size");
  };
  refusal_ok([&] { check(decode_image(bytes, n, "fuzz input", channels)); });
  if (denom > 1) refusal_ok([&] { check(decode_image_scaled(bytes, n, "fuzz input", denom, channels)); });
}

void celeba(const uint8_t* data, size_t size) {
  last_outcome() = {};
  if (size < 1) return;
  const Scratch& s = scratch();
  const int pick = data[0] % 5;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const CelebAFiles files;
  if (pick < 4) {
    const std::string path = s.dir + "/list.txt";
    s.put("list.txt", rest);
    refusal_ok([&] {
      if (pick == 0)
        read_identities(path);
      else if (pick == 1)
        read_partitions(path);
      else if (pick == 2)
        read_boxes(path);
      else
        read_landmarks(path);
    });
    return;
  }
  // Four files, separated by NUL bytes (which no list file holds): identities, partitions,
  // boxes, landmarks; then load_faces joins them over a folder with three (empty) images.
  std::vector<std::string> parts(4);
  size_t at = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t end = i < 3 ? rest.find('\0', at) : std::string::npos;
    parts[i] = rest.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  s.put(files.identities, parts[0]);
  s.put(files.partitions, parts[1]);
  s.put(files.boxes, parts[2]);
  s.put(files.landmarks, parts[3]);
  refusal_ok([&] {
    FaceSet ds = load_faces(s.dir, FaceFilter::BoxAndLandmarks);
    for (const FaceRecord& f : ds.faces) {
      // Every kept image lies inside the folder (no ../, absolute names or symlinks out of it).
      const std::string canonical = std::filesystem::weakly_canonical(f.path).string();
      const std::string root = std::filesystem::weakly_canonical(s.dir + "/img_celeba").string() + "/";
      FF_FUZZ_ASSERT(canonical.rfind(root, 0) == 0, "a listed image outside the data folder was kept");
    }
  });
}

void config(const uint8_t* data, size_t size) {
  last_outcome() = {};
  if (size < 1) return;
  static const char* const kinds[] = {"hourglass", "embedding", "resnet", "detector"};
  const std::string kind = kinds[data[0] % 4];
  const std::string cfg(reinterpret_cast<const char*>(data + 1), size - 1);
  refusal_ok([&] {
    const ModelTensorShapes shapes = model_tensor_shapes(kind, cfg, "fuzz input");
    // Bounded: a configuration that passes describes at most kMaxModelWeights weights.
    double total = 0;
    for (auto& [name, shape] : shapes) {
      double n = 1;
      for (int64_t d : shape) {
        FF_FUZZ_ASSERT(d >= 0, "a negative dimension");
        n *= static_cast<double>(d);
      }
      total += n;
    }
    FF_FUZZ_ASSERT(total <= static_cast<double>(kMaxModelWeights),
                   "a configuration of more than kMaxModelWeights weights");
  });
  // The parsers themselves; what parses prints to a string that parses to the same.
  refusal_ok([&] {
    std::string printed, again;
    if (kind == "hourglass") {
      printed = HourglassConfig::parse(cfg).str();
      again = HourglassConfig::parse(printed).str();
    } else if (kind == "embedding") {
      printed = EmbeddingConfig::parse(cfg).str();
      again = EmbeddingConfig::parse(printed).str();
    } else if (kind == "resnet") {
      printed = ResNetConfig::parse(cfg).str();
      again = ResNetConfig::parse(printed).str();
    } else {
      printed = DetectorConfig::parse(cfg).str();
      again = DetectorConfig::parse(printed).str();
    }
    FF_FUZZ_ASSERT(printed == again, "a configuration's str() does not parse back to itself");
    // What parsed names no key twice (a second value used to win silently).
    std::set<std::string> keys;
    std::istringstream is(cfg);
    for (std::string kv; std::getline(is, kv, ',');)
      FF_FUZZ_ASSERT(keys.insert(kv.substr(0, kv.find('='))).second, "a configuration naming a key twice was accepted");
  });
}

const std::vector<Target>& targets() {
  static const std::vector<Target> t = {
      {"safetensors", safetensors}, {"model", model}, {"image", image}, {"celeba", celeba}, {"config", config}};
  return t;
}

}  // namespace ff::fuzz

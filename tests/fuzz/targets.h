// tests/fuzz/targets.h — the project's parsers as fuzz targets: each takes any bytes and must
// either succeed or refuse them with ff::Error (the one-line message a user sees). Anything else
// is a bug: a crash, a sanitizer report (ASan, UBSan), another exception, an allocation past
// libFuzzer's limit, or a broken promise the target checks (FF_FUZZ_ASSERT: what was read back
// must agree with itself).
//
// The same functions run twice over: under libFuzzer (tests/fuzz/fuzz_main.cpp, clang with
// ASan + UBSan, scripts/fuzz.sh), and in the ordinary test binary, which replays every file of
// tests/fuzz/corpus/ and tests/fuzz/regressions/ (tests/test_fuzz_corpus.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ff::fuzz {

// The safetensors reader (engine/safetensors.h): parse, touch every tensor's bytes, write the
// result again and read it back; the copy must equal the original.
void safetensors(const uint8_t* data, size_t size);
// The model loader (models/factory.h): parse, check_model_file, load_model (which builds the
// network); a file load_model accepts must pass check_model_file and the reverse.
void model(const uint8_t* data, size_t size);
// The photo decoder (data/image.h): the first byte picks the channels asked for (0, 1 or 3) and a
// DCT-scaled decode; a decoded image must be within the bounds and hold width*height*channels bytes.
void image(const uint8_t* data, size_t size);
// The CelebA list readers (data/celeba.h): the first byte picks the reader (identities,
// partitions, boxes, landmarks, or all four joined by load_faces with a folder of images, the
// input then being four files separated by 0x00 bytes); the rest is the file.
void celeba(const uint8_t* data, size_t size);
// The configuration parsers (models/*.h, models/factory.h): the first byte picks the kind; the
// rest is the configuration string. A configuration that parses must print (str()) to one that
// parses to the same, and its tensors (model_tensor_shapes) must be bounded.
void config(const uint8_t* data, size_t size);

// What the last call of a target made of its input: how many of its steps accepted it, how many
// refused it, and the first refusal's message (tests/test_fuzz_corpus.cpp checks each regression
// against tests/fuzz/expected.txt: refused for the reason it was written for, or accepted).
struct Outcome {
  int accepted = 0, refused = 0;
  std::string first_refusal;
};
Outcome& last_outcome();

struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};
const std::vector<Target>& targets();

}  // namespace ff::fuzz

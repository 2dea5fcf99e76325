// tests/test_safetensors.cpp — the safetensors reader and writer: round trips, bf16, every
// rejection rule, atomic writes, and a fuzz run of 10,000+ corrupted files that must never crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "tests/test_util.h"

namespace ff::test {
namespace {

std::string tmpdir() {
  auto d = std::filesystem::temp_directory_path() / ("ff_st_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

std::vector<std::pair<std::string, Tensor>> sample() {
  Rng rng(3);
  Tensor a = Tensor::empty({2, 3});
  uniform_(a, -1, 1, rng);
  return {{"layer.weight", a},
          {"ids", Tensor::from_vector<int64_t>({1, -2, 3}, {3})},
          {"scalar", Tensor::scalar(2.5, DType::F64)},
          {"img", Tensor::from_vector<uint8_t>({0, 255, 7, 9}, {2, 2, 1})},
          {"empty", Tensor::zeros({0, 4})}};
}

TEST(Safetensors, RoundTripAllDtypes) {
  std::string path = tmpdir() + "/a.safetensors";
  write_safetensors(path, sample(), {{"model", "test"}});
  SafeTensors st = read_safetensors(path);
  EXPECT_EQ(st.metadata.at("model"), "test");
  for (auto& [name, t] : sample()) {
    ASSERT_TRUE(st.has(name)) << name;
    EXPECT_EQ(st.at(name).dtype(), t.dtype()) << name;
    EXPECT_EQ(st.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(st.at(name).to_vector<double>(), t.to_vector<double>()) << name;
  }
  EXPECT_THROW(st.at("nope"), Error);
}

TEST(Safetensors, Bf16RoundsToNearestEven) {
  std::vector<float> v = {1.0f, 1.00390625f /* exactly halfway: stays 1.0 */, 1.01171875f /* halfway up */, -3.14159f, 1e-3f};
  std::string bytes = serialize_safetensors({{"x", Tensor::from_vector(v, {5})}}, {}, true);
  SafeTensors st = parse_safetensors(bytes, "mem");
  std::vector<float> back = st.at("x").to_vector<float>();
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f);
  EXPECT_EQ(back[2], 1.015625f);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(back[i], v[i], std::fabs(v[i]) * 1.0 / 128) << i;
}

// Builds a file from a header JSON and a data size, for the rejection tests.
std::string make_file(const nlohmann::json& header, size_t data_bytes) {
  std::string h = header.dump();
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + h + std::string(data_bytes, '\x01');
}

void expect_reject(const std::string& bytes, const std::string& needle) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
    ADD_FAILURE() << "accepted a file that should be rejected (" << needle << ")";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << "message '" << m << "' lacks '" << needle << "'";
  }
}

TEST(Safetensors, RejectsEveryMalformation) {
  using nlohmann::json;
  auto t = [](const char* dt, json shape, uint64_t b, uint64_t e) {
    return json{{"dtype", dt}, {"shape", shape}, {"data_offsets", {b, e}}};
  };
  expect_reject("abc", "at least 8");
  std::string huge(8, '\0');
  huge[4] = 0x10;  // 2^36 bytes
  expect_reject(huge, "100 MB");
  std::string past(8, '\0');
  past[0] = 50;
  expect_reject(past + "{}", "past the end");
  expect_reject(make_file(json::array(), 0), "not a JSON object");
  std::string badjson = make_file(json::object(), 0);
  badjson[8] = '[';
  expect_reject(badjson, "JSON");
  expect_reject(make_file({{"a", t("F16", {2}, 0, 4)}}, 4), "unknown dtype");
  expect_reject(make_file({{"a", t("F32", {3}, 0, 8)}}, 8), "needs 12 bytes");
  expect_reject(make_file({{"a", t("F32", {2}, 0, 8)}}, 4), "run past");
  expect_reject(make_file({{"a", t("F32", {2}, 0, 8)}, {"b", t("F32", {2}, 4, 12)}}, 12), "overlaps");
  expect_reject(make_file({{"a", t("F32", {1}, 0, 4)}, {"b", t("F32", {1}, 8, 12)}}, 12), "gap");
  expect_reject(make_file({{"a", t("F32", {1}, 0, 4)}}, 8), "after the last tensor");
  expect_reject(make_file({{"a", t("F32", {-1}, 0, 4)}}, 4), "bad dimension");
  expect_reject(make_file({{"a", {{"dtype", "F32"}}}}, 0), "lacks");
  expect_reject(make_file({{"__metadata__", {{"k", 3}}}}, 0), "not a string");
  expect_reject(make_file({{"a", t("F32", {1}, 8, 4)}}, 8), "run past");
}

// JSON allows a key twice (nlohmann keeps the last); a header that does is refused, as is an empty
// tensor name (which the writer never makes).
TEST(Safetensors, RejectsDuplicateKeysAndEmptyNames) {
  const std::string one = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  auto file = [](const std::string& h, size_t data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    return out + h + std::string(data, '\0');
  };
  EXPECT_NO_THROW(parse_safetensors(file(one + "}", 4), "ok"));
  expect_reject(file(one + R"(,"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), "names 'a' twice");
  expect_reject(file(one + R"(,"__metadata__":{"k":"1","k":"2"}})", 4), "names 'k' twice");
  expect_reject(file(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), "empty name");
  // The same key in two different objects is not a duplicate.
  EXPECT_NO_THROW(parse_safetensors(file(one + R"(,"__metadata__":{"a":"x"}})", 4), "ok"));
}

// The writer stores a CRC-32 of the data; a flipped bit anywhere in the data is refused on read,
// a file without a checksum (another tool's) is read, and the checksum is not part of metadata.
TEST(Safetensors, ChecksumCatchesAFlippedDataBit) {
  const std::string good = serialize_safetensors(sample(), {{"k", "v"}});
  SafeTensors st = parse_safetensors(good, "good");
  EXPECT_EQ(st.checksum.rfind("crc32:", 0), 0u) << st.checksum;
  EXPECT_EQ(st.metadata.size(), 1u);
  EXPECT_EQ(st.metadata.count(kChecksumKey), 0u);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(good[i]);
  const size_t data = 8 + hlen;
  ASSERT_LT(data, good.size());
  int caught = 0, positions = 0;
  for (size_t pos = data; pos < good.size(); pos += 3)
    for (int bit : {0, 7}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      ++positions;
      try {
        parse_safetensors(bad, "flipped.safetensors");
      } catch (const Error& e) {
        ++caught;
        EXPECT_NE(std::string(e.what()).find("flipped.safetensors: the tensor data does not match the file's checksum"),
                  std::string::npos)
            << e.what();
      }
    }
  EXPECT_EQ(caught, positions);
  // Without a checksum (as another tool writes the file): read as before, checksum empty.
  using nlohmann::json;
  SafeTensors o = parse_safetensors(
      make_file({{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}, {"__metadata__", {{"x", "y"}}}}, 4),
      "other");
  EXPECT_TRUE(o.checksum.empty());
  EXPECT_EQ(o.metadata.at("x"), "y");
  // A checksum read from one file and passed back as metadata is replaced by the new file's.
  std::map<std::string, std::string> meta{{kChecksumKey, "crc32:00000000"}};
  EXPECT_NO_THROW(parse_safetensors(serialize_safetensors({{"a", Tensor::ones({3})}}, meta), "rewritten"));
}

TEST(Safetensors, MissingFileNamesThePath) {
  try {
    read_safetensors("/nonexistent/dir/x.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.safetensors"), std::string::npos);
  }
}

TEST(Safetensors, AtomicWriteLeavesNoTemporaryAndReplacesWhole) {
  std::string dir = tmpdir();
  std::string path = dir + "/ckpt.safetensors";
  write_safetensors(path, sample());
  write_safetensors(path, {{"only", Tensor::ones({2})}});
  SafeTensors st = read_safetensors(path);
  EXPECT_EQ(st.tensors.size(), 1u);
  for (auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  EXPECT_THROW(write_safetensors("/nonexistent/dir/x.safetensors", sample()), Error);
}

// 10,000+ corrupted variants of a valid file: truncations, byte flips, header-length edits and
// JSON edits. Each either parses into tensors whose bytes lie inside the file, or throws
// ff::Error; nothing else (no crash, no other exception) is allowed.
TEST(Safetensors, FuzzTenThousandCorruptFilesNeverCrash) {
  std::string good = serialize_safetensors(sample(), {{"k", "v"}});
  Rng rng(99);
  int rejected = 0, accepted = 0;
  const int kCases = 12000;
  for (int i = 0; i < kCases; ++i) {
    std::string b = good;
    switch (i % 4) {
      case 0: b.resize(rng.randint(static_cast<int64_t>(b.size()))); break;
      case 1:
        for (int k = 0, n = 1 + static_cast<int>(rng.randint(8)); k < n; ++k)
          b[rng.randint(static_cast<int64_t>(b.size()))] = static_cast<char>(rng.randint(256));
        break;
      case 2: b[rng.randint(8)] = static_cast<char>(rng.randint(256)); break;
      case 3: {  // flip a digit or punctuation inside the JSON header
        size_t pos = 8 + rng.randint(static_cast<int64_t>(b.size() - 8) / 2);
        const char repl[] = "0123456789[]{},:\"-";
        b[pos] = repl[rng.randint(sizeof(repl) - 1)];
        break;
      }
    }
    try {
      SafeTensors st = parse_safetensors(b, "fuzz");
      for (auto& [n, t] : st.tensors) ASSERT_LE(t.nbytes(), b.size());
      ++accepted;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(accepted + rejected, kCases);
  EXPECT_GT(rejected, kCases / 2);  // most corruptions must be caught, not silently accepted
}

}  // namespace
}  // namespace ff::test

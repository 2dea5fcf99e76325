// engine/safetensors.h — read and write the safetensors format.
//
// File layout: 8-byte little-endian header length L, then L bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the raw little-endian tensor bytes; offsets are relative to the end of the header.
// The reader validates everything before it trusts it (header size, JSON, dtypes, shapes against
// byte counts, offsets inside the file, no overlaps and no gaps) and throws ff::Error naming the
// file and the problem. A header that names a key twice, or a tensor with an empty name, is refused.
// The writer stores a CRC-32 of the data section in the metadata (key "ff.data_crc32", value
// "crc32:xxxxxxxx"); the reader verifies it when present, so a flipped bit in the tensor data is
// refused instead of loaded ("the tensor data does not match the file's checksum"). Files from other
// tools have no checksum and are read as before (SafeTensors::checksum is then empty); a flipped
// bit in the header is caught by the header's own checks or by the checksum no longer matching the
// offsets it describes. `faceforge check FILE` runs these checks on a file. The writer writes a temporary file, fsyncs it and renames it over the
// target, so a crash never leaves a half-written file.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ff {

constexpr const char* kChecksumKey = "ff.data_crc32";

struct SafeTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (sorted by offset)
  std::map<std::string, std::string> metadata;          // without the checksum
  std::string checksum;  // the file's ff.data_crc32, verified; empty when the file has none
  // The tensor called name; throws naming the file's contents when absent.
  const Tensor& at(const std::string& name) const;
  bool has(const std::string& name) const;
};

constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1024 * 1024;

// Parses a safetensors file held in memory; `what` names it in errors. Supported dtypes: F32,
// F64, I32, I64, U8, and BF16 (converted to float32 on load).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& what);
SafeTensors read_safetensors(const std::string& path);
// "crc32:xxxxxxxx" of `size` bytes (zlib's CRC-32).
std::string data_checksum(const void* data, size_t size);

// Serialises tensors (any device; copied to the host) with metadata. bf16 = true stores float32
// tensors as BF16 (round to nearest even).
std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata, bool bf16 = false);
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {}, bool bf16 = false);

// Writes bytes to path atomically: path.tmp.<pid>, fsync, rename, fsync of the directory. A
// failure leaves any older file at path intact and throws "<who>: <path>: cannot open ... for
// writing | write failed | cannot rename ..." (who = the caller's name, e.g. "save_png"; null:
// none). Every file faceforge writes (checkpoints, images, lists, reports) goes through it.
void write_file_atomic(const std::string& path, const void* data, size_t size, const char* who = nullptr);
inline void write_file_atomic(const std::string& path, const std::string& bytes, const char* who = nullptr) {
  write_file_atomic(path, bytes.data(), bytes.size(), who);
}
std::string read_file(const std::string& path);

}  // namespace ff

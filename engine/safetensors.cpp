// engine/safetensors.cpp — see safetensors.h.
#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <zlib.h>

namespace ff {

using json = nlohmann::json;

const Tensor& SafeTensors::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  std::string have;
  for (const auto& [n, t] : tensors) have += (have.empty() ? "" : ", ") + n;
  FF_FAIL("safetensors: no tensor named '", name, "' (have: ", have, ")");
}
bool SafeTensors::has(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

namespace {
bool parse_dtype(const std::string& s, DType* dt, size_t* size, bool* bf16) {
  *bf16 = false;
  if (s == "F32") { *dt = DType::F32; *size = 4; return true; }
  if (s == "F64") { *dt = DType::F64; *size = 8; return true; }
  if (s == "I32") { *dt = DType::I32; *size = 4; return true; }
  if (s == "I64") { *dt = DType::I64; *size = 8; return true; }
  if (s == "U8") { *dt = DType::U8; *size = 1; return true; }
  if (s == "BF16") { *dt = DType::F32; *size = 2; *bf16 = true; return true; }
  return false;
}
const char* st_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}
float bf16_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}
}  // namespace

std::string data_checksum(const void* data, size_t size) {
  // zlib's crc32 takes a uInt length: fed in chunks, so any size works.
  uLong crc = crc32(0L, Z_NULL, 0);
  const Bytef* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    const uInt n = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    size -= n;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "crc32:%08lx", static_cast<unsigned long>(crc));
  return buf;
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& what) {
  FF_CHECK(bytes.size() >= 8, what, ": not a safetensors file (", bytes.size(), " bytes, need at least 8)");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(bytes[i]);
  FF_CHECK(hlen <= kMaxSafetensorsHeader, what, ": header length ", hlen, " exceeds the 100 MB limit");
  FF_CHECK(hlen <= bytes.size() - 8, what, ": header length ", hlen, " runs past the end of the file (",
           bytes.size(), " bytes)");
  json header;
  // JSON itself allows a key twice in an object (nlohmann keeps the last); a header that names a
  // tensor or a metadata key twice is refused, so no two readers can see different files in it.
  std::vector<std::set<std::string>> keys;  // the keys seen so far in each open object
  std::string duplicate;
  auto no_duplicates = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    else if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    else if (event == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hlen), no_duplicates);
  } catch (const json::exception& e) {
    FF_FAIL(what, ": header is not valid JSON: ", e.what());
  }
  FF_CHECK(duplicate.empty(), what, ": the header names '", duplicate, "' twice");
  FF_CHECK(header.is_object(), what, ": header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - hlen;
  const char* data = bytes.data() + 8 + hlen;

  SafeTensors out;
  struct Entry {
    std::string name;
    DType dtype;
    size_t esize;
    bool bf16;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    FF_CHECK(!name.empty(), what, ": a tensor has an empty name");
    if (name == "__metadata__") {
      FF_CHECK(v.is_object(), what, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        FF_CHECK(m.value().is_string(), what, ": metadata value '", m.key(), "' is not a string");
        if (m.key() == kChecksumKey) out.checksum = m.value().get<std::string>();
        else out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    FF_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
             what, ": tensor '", name, "' lacks dtype, shape or data_offsets");
    FF_CHECK(v["dtype"].is_string(), what, ": tensor '", name, "': dtype is not a string");
    Entry e;
    e.name = name;
    std::string ds = v["dtype"].get<std::string>();
    FF_CHECK(parse_dtype(ds, &e.dtype, &e.esize, &e.bf16), what, ": tensor '", name, "': unknown dtype '", ds, "'");
    FF_CHECK(v["shape"].is_array(), what, ": tensor '", name, "': shape is not an array");
    uint64_t count = 1;
    for (const json& d : v["shape"]) {
      FF_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), what,
               ": tensor '", name, "': bad dimension in shape");
      uint64_t dim = d.get<uint64_t>();
      FF_CHECK(dim < (1ull << 40) && (dim == 0 || count <= (1ull << 40) / dim), what, ": tensor '",
               name, "': shape too large");
      count *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = v["data_offsets"];
    FF_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
             what, ": tensor '", name, "': data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    FF_CHECK(e.begin <= e.end && e.end <= data_size, what, ": tensor '", name, "': data_offsets [",
             e.begin, ", ", e.end, "] run past the data (", data_size, " bytes)");
    FF_CHECK(e.end - e.begin == count * e.esize, what, ": tensor '", name, "': shape ",
             shape_str(e.shape), " of ", ds, " needs ", count * e.esize, " bytes, offsets give ",
             e.end - e.begin);
    entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (const Entry& e : entries) {
    FF_CHECK(e.begin >= pos, what, ": tensor '", e.name, "' overlaps the tensor before it");
    FF_CHECK(e.begin == pos, what, ": gap of ", e.begin - pos, " bytes before tensor '", e.name, "'");
    pos = e.end;
  }
  FF_CHECK(pos == data_size, what, ": ", data_size - pos, " bytes after the last tensor");
  if (!out.checksum.empty()) {
    const std::string got = data_checksum(data, data_size);
    FF_CHECK(got == out.checksum, what, ": the tensor data does not match the file's checksum (", kChecksumKey, " ",
             out.checksum, ", computed ", got, "): the file is corrupt; use an intact copy");
  }
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.bf16) {
      float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        uint16_t h;
        std::memcpy(&h, data + e.begin + 2 * i, 2);
        p[i] = bf16_to_float(h);
      }
    } else if (e.end > e.begin) {
      std::memcpy(t.raw(), data + e.begin, e.end - e.begin);
    }
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  FF_CHECK(f.good(), path, ": cannot open (", std::strerror(errno), ")");
  std::ostringstream ss;
  ss << f.rdbuf();
  FF_CHECK(!f.bad(), path, ": read error");
  return ss.str();
}

SafeTensors read_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

std::string serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata, bool bf16) {
  json header = json::object();
  std::string data;
  for (const auto& [name, t0] : tensors) {
    FF_CHECK(name != "__metadata__" && !name.empty(), "safetensors: bad tensor name '", name, "'");
    FF_CHECK(!header.contains(name), "safetensors: duplicate tensor name '", name, "'");
    Tensor t = t0.detach().cpu();
    uint64_t begin = data.size();
    bool as_bf16 = bf16 && t.dtype() == DType::F32;
    if (as_bf16) {
      const float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        uint16_t h = float_to_bf16(p[i]);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    } else {
      data.append(static_cast<const char*>(t.raw()), t.nbytes());
    }
    header[name] = {{"dtype", as_bf16 ? "BF16" : st_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {begin, static_cast<uint64_t>(data.size())}}};
  }
  json meta = json::object();
  for (const auto& [k, v] : metadata)
    if (k != kChecksumKey) meta[k] = v;  // a checksum read from another file is not this file's
  meta[kChecksumKey] = data_checksum(data.data(), data.size());
  header["__metadata__"] = meta;
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');  // align the data to 8 bytes, as the format allows
  std::string out(8, '\0');
  uint64_t hlen = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((hlen >> (8 * i)) & 0xff);
  out += h;
  out += data;
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, bool bf16) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata, bf16));
}

void write_file_atomic(const std::string& path, const void* data, size_t size, const char* who) {
  const std::string prefix = who ? std::string(who) + ": " + path : path;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FF_CHECK(fd >= 0, prefix, ": cannot open ", tmp, " for writing (", std::strerror(errno), ")");
  const char* bytes = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, bytes + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      FF_FAIL(prefix, ": write failed (", std::strerror(e), ")");
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    FF_FAIL(prefix, ": write failed at fsync/close (", std::strerror(e), ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    FF_FAIL(prefix, ": cannot rename the temporary file ", tmp, " (", std::strerror(e), ")");
  }
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace ff

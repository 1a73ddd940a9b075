#include "acceltran/workload/safetensors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/input_text.hpp"
#include "acceltran/config/output_file.hpp"

namespace acceltran {
using nlohmann::json;

FloatTensor::FloatTensor(std::vector<int64_t> s, float fill)
    : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), fill) {}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float mag;
  if (exp == 0)
    mag = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal: mant * 2^-24
  else if (exp == 31)
    mag = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else
    mag = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -mag : mag;
}

float bfloat16_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

namespace {

// Bytes per element of every dtype of the safetensors format.
int dtype_bytes(const std::string& d) {
  static const std::map<std::string, int> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  auto it = kSizes.find(d);
  return it == kSizes.end() ? 0 : it->second;
}

const char* kAllDtypes =
    "BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64";

uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

// Appends the float data little-endian.
void put_floats(std::string& out, const std::vector<float>& data) {
  out.reserve(out.size() + data.size() * 4);
  for (float f : data) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    put_le32(out, u);
  }
}

void check_tensor(const FloatTensor& t, const std::string& what) {
  for (int64_t d : t.shape)
    if (d < 0)
      throw InputError(
          fmt::format("{}: negative dimension in shape {}", what, shape_string(t.shape)));
  if (shape_numel(t.shape) != t.numel())
    throw InputError(fmt::format("{}: shape {} has {} elements but the tensor holds {}", what,
                                 shape_string(t.shape), shape_numel(t.shape), t.numel()));
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!in || !std::filesystem::is_regular_file(path, ec))
    throw InputError(fmt::format("{}: safetensors file not found or not readable", path));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) throw InputError(fmt::format("{}: cannot determine the file size", path));
  const auto size = static_cast<uint64_t>(end);
  in.seekg(0);
  if (size < 8)
    throw InputError(
        fmt::format("{}: {} bytes is too short for a safetensors file (8-byte header length first)",
                    path, size));
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  const uint64_t n = read_le64(len_bytes);
  if (n == 0 || n > size - 8)
    throw InputError(fmt::format(
        "{}: header length {} (first 8 bytes, little-endian) does not fit the {} bytes after it; "
        "not a safetensors file, or truncated",
        path, n, size - 8));
  if (n > limits::kMaxSafetensorsHeaderBytes)
    throw InputError(fmt::format("{}: header length {} exceeds the {}-byte limit", path, n,
                                 limits::kMaxSafetensorsHeaderBytes));
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in) throw InputError(fmt::format("{}: cannot read the {}-byte header", path, n));
  data_start_ = 8 + n;
  const uint64_t data_size = size - data_start_;

  check_json_text(text, path + ": safetensors header", limits::kMaxSafetensorsHeaderBytes);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(
        fmt::format("{}: safetensors header is not valid JSON (error at byte {})", path, e.byte));
  }
  if (!j.is_object())
    throw InputError(fmt::format("{}: safetensors header is not a JSON object", path));

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      read_metadata(v);
      continue;
    }
    auto bad = [&](const std::string& why) {
      return InputError(fmt::format("{}: tensor '{}': {}", path, quoted_value(name), why));
    };
    if (!v.is_object()) throw bad("header entry is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!v.contains(key)) throw bad(fmt::format("missing key '{}'", key));
    SafetensorsEntry e;
    if (!v["dtype"].is_string()) throw bad("key 'dtype' is not a string");
    e.dtype = v["dtype"].get<std::string>();
    const int bytes = dtype_bytes(e.dtype);
    if (bytes == 0)
      throw bad(fmt::format("unknown dtype '{}'; allowed: {}", quoted_value(e.dtype), kAllDtypes));
    if (!v["shape"].is_array()) throw bad("key 'shape' is not a list");
    uint64_t numel = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned())
        throw bad(
            fmt::format("shape entry {} is not a non-negative integer", quoted_value(d.dump())));
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 48) / dim)
        throw bad(fmt::format("shape {} is too large", quoted_value(v["shape"].dump())));
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw bad(
          fmt::format("key 'data_offsets' must be [begin, end], got {}", quoted_value(off.dump())));
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end)
      throw bad(fmt::format("data_offsets [{}, {}]: begin after end", e.begin, e.end));
    if (e.end > data_size)
      throw bad(
          fmt::format("data_offsets [{}, {}] end beyond the {}-byte data buffer (truncated file?)",
                      e.begin, e.end, data_size));
    if (e.end - e.begin != numel * static_cast<uint64_t>(bytes))
      throw bad(fmt::format("data_offsets [{}, {}] span {} bytes but shape {} of {} needs {}",
                            e.begin, e.end, e.end - e.begin, shape_string(e.shape), e.dtype,
                            numel * bytes));
    entries_.emplace(name, std::move(e));
  }
  check_no_overlap();
}

// The header's `__metadata__`: an object of strings.
void SafetensorsFile::read_metadata(const json& metadata) {
  if (!metadata.is_object())
    throw InputError(fmt::format("{}: '__metadata__' is not a JSON object", path_));
  for (auto m = metadata.begin(); m != metadata.end(); ++m) {
    if (!m.value().is_string())
      throw InputError(fmt::format("{}: '__metadata__' key '{}': value is not a string", path_,
                                   quoted_value(m.key())));
    metadata_[m.key()] = m.value().get<std::string>();
  }
}

// Two tensors may not share bytes of the data buffer (the format's rule; a writer that overlaps
// them, or a hand-edited header, would make one tensor's values another's).
void SafetensorsFile::check_no_overlap() const {
  std::vector<std::pair<const SafetensorsEntry*, const std::string*>> by_begin;
  for (const auto& [name, e] : entries_)
    if (e.end > e.begin) by_begin.emplace_back(&e, &name);
  std::sort(by_begin.begin(), by_begin.end(),
            [](const auto& a, const auto& b) { return a.first->begin < b.first->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const SafetensorsEntry& before = *by_begin[i - 1].first;
    const SafetensorsEntry& after = *by_begin[i].first;
    if (after.begin < before.end)
      throw InputError(fmt::format(
          "{}: tensors '{}' (data_offsets [{}, {}]) and '{}' ([{}, {}]) overlap in the data "
          "buffer; each tensor needs its own bytes",
          path_, quoted_value(*by_begin[i - 1].second), before.begin, before.end,
          quoted_value(*by_begin[i].second), after.begin, after.end));
  }
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw InputError(fmt::format("{}: missing tensor '{}'", path_, name));
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

FloatTensor SafetensorsFile::read(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
    throw InputError(
        fmt::format("{}: tensor '{}': dtype '{}' cannot be read as float; supported: "
                    "F32, F16, BF16",
                    path_, name, e.dtype));
  std::ifstream in(path_, std::ios::binary);
  std::string raw(e.end - e.begin, '\0');
  in.seekg(static_cast<std::streamoff>(data_start_ + e.begin));
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  if (!in)
    throw InputError(
        fmt::format("{}: tensor '{}': cannot read bytes [{}, {}) of the data buffer "
                    "(file changed or truncated?)",
                    path_, name, e.begin, e.end));
  FloatTensor t(e.shape);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = t.data.size();
  if (e.dtype == "F32") {
    for (size_t i = 0; i < n; ++i, p += 4) {
      uint32_t u =
          uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
      std::memcpy(&t.data[i], &u, sizeof u);
    }
  } else {
    const bool half = e.dtype == "F16";
    for (size_t i = 0; i < n; ++i, p += 2) {
      const auto u = static_cast<uint16_t>(p[0] | p[1] << 8);
      t.data[i] = half ? half_to_float(u) : bfloat16_to_float(u);
    }
  }
  return t;
}

// A model weight of inf or NaN would poison the float reference (whose comparison would then read
// 0 error): refused, naming the tensor and the first such element.
void SafetensorsFile::check_finite(const FloatTensor& tensor, const std::string& name) const {
  for (size_t i = 0; i < tensor.data.size(); ++i)
    if (!std::isfinite(tensor.data[i]))
      throw InputError(fmt::format("{}: tensor '{}': element {} is {}; weights must be finite",
                                   path_, quoted_value(name), i, tensor.data[i]));
}

FloatTensor SafetensorsFile::read(const std::string& name, const std::vector<int64_t>& expected,
                                  const std::string& why) const {
  const SafetensorsEntry& e = entry(name);
  if (e.shape != expected)
    throw InputError(fmt::format("{}: tensor '{}' has shape {}; {} requires {}", path_, name,
                                 shape_string(e.shape), why, shape_string(expected)));
  FloatTensor tensor = read(name);
  check_finite(tensor, name);
  return tensor;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, FloatTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check_tensor(t, fmt::format("{}: tensor '{}'", path, name));
    if (name == "__metadata__" || header.contains(name))
      throw InputError(fmt::format("{}: tensor name '{}' repeated or reserved", path, name));
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
    header[name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  put_le64(out, text.size());
  out += text;
  for (const auto& entry : tensors) put_floats(out, entry.second.data);
  write_output_file(path, out);
}

void write_npy(const std::string& path, const FloatTensor& t) {
  check_tensor(t, path);
  // Python tuple syntax: "()", "(5,)", "(2, 64)".
  const std::string shape =
      fmt::format("({}{})", fmt::join(t.shape, ", "), t.shape.size() == 1 ? "," : "");
  std::string dict =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape);
  // magic (6) + version (2) + header length (2) + dict + padding + '\n': a multiple of 64 bytes.
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xffu));
  out.push_back(static_cast<char>(dict.size() >> 8));
  out += dict;
  put_floats(out, t.data);
  write_output_file(path, out);
}

}  // namespace acceltran

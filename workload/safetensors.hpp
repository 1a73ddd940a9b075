// Tensor files: a safetensors reader (F32, F16, BF16 -> float), an F32 safetensors writer and a
// .npy writer. Plain C++; every malformed file is an InputError naming the file and the tensor.
//
// safetensors layout: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value"}}, then the data buffer; offsets are relative to its start.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "acceltran/config/input_error.hpp"

namespace acceltran {

// A dense row-major float32 tensor.
struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  FloatTensor() = default;
  explicit FloatTensor(std::vector<int64_t> s, float fill = 0.0f);
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

// Number of elements of a shape (1 for a scalar).
int64_t shape_numel(const std::vector<int64_t>& shape);
// "[2, 64]".
std::string shape_string(const std::vector<int64_t>& shape);

// One entry of a safetensors header.
struct SafetensorsEntry {
  std::string dtype;  // as written: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data buffer
};

// An open safetensors file: the header is parsed and every entry validated (known dtype, offsets
// inside the file, byte size = elements x dtype size) when it is opened; tensor data are read on
// demand. Only F32, F16 and BF16 tensors can be read (converted to float).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Throws InputError "<file>: missing tensor '<name>'" when absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads a tensor as float32. Throws for a missing tensor or a dtype other than F32/F16/BF16.
  FloatTensor read(const std::string& name) const;
  // As read(), for a model weight: throws when its shape is not `expected` ("... has shape
  // [a, b]; the config requires [c, d]") or when an element is inf or NaN. `why` names where the
  // expected shape comes from, e.g. "config.json".
  FloatTensor read(const std::string& name, const std::vector<int64_t>& expected,
                   const std::string& why = "the model config") const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;  // 8 + header length
  void read_metadata(const nlohmann::json& metadata);
  void check_no_overlap() const;
  void check_finite(const FloatTensor& tensor, const std::string& name) const;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes F32 tensors (in the given order) with an optional "__metadata__" map. The header is
// padded with spaces to a multiple of 8 bytes. Throws InputError when the file cannot be written
// or a name repeats.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, FloatTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes one tensor as a NumPy .npy file (format 1.0, '<f4', C order).
void write_npy(const std::string& path, const FloatTensor& tensor);

// IEEE half and bfloat16 bit patterns to float (exact; subnormals, infinities and NaN kept).
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

}  // namespace acceltran

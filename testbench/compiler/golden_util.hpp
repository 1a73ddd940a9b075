// Helpers shared by the tensor-file, weight and float-reference tests.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "acceltran/config/input_error.hpp"
#include "acceltran/workload/safetensors.hpp"

namespace golden {

inline const std::string kFixture = std::string(ACCELTRAN_FIXTURES_DIR_FOR_TESTS) + "/bert-2l-64";

// The InputError message of fn(), or "" when it does not throw one.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const acceltran::InputError& e) {
    return e.what();
  }
  return "";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

// A safetensors file image: 8-byte little-endian length of `header`, `header`, `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

// Largest |a - b| over two tensors of the same shape.
inline double max_abs_diff(const acceltran::FloatTensor& a, const acceltran::FloatTensor& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a.data[i]) - b.data[i]));
  return m;
}

}  // namespace golden

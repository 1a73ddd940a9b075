// safetensors reader/writer and .npy writer: round trips, dtype conversion, and one clear error
// naming the file (and the tensor) for every malformed file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "acceltran/workload/safetensors.hpp"
#include "golden_util.hpp"
#include "test_util.hpp"

using namespace acceltran;
using golden::error_of;

TEST_CASE("safetensors: F32 round trip with metadata", "[safetensors]") {
  testutil::TempDir d;
  const std::string path = (d.path / "t.safetensors").string();
  FloatTensor a({2, 3});
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = 0.5f * static_cast<float>(i) - 1.25f;
  FloatTensor b({5});
  b.data = {1e-30f, -3.0f, 7.0f, 0.0f, std::numeric_limits<float>::infinity()};
  FloatTensor scalar(std::vector<int64_t>{});
  scalar.data = {42.0f};
  write_safetensors(path, {{"z.a", a}, {"b", b}, {"s", scalar}}, {{"format", "pt"}});

  const std::string bytes = golden::slurp(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  CHECK(n % 8 == 0);  // header padded to 8 bytes
  CHECK(bytes.size() == 8 + n + 4 * (6 + 5 + 1));

  SafetensorsFile f(path);
  CHECK(f.names() == std::vector<std::string>{"b", "s", "z.a"});
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.entry("z.a").dtype == "F32");
  FloatTensor ra = f.read("z.a", {2, 3});
  CHECK(ra.shape == a.shape);
  CHECK(ra.data == a.data);
  CHECK(f.read("b").data == b.data);
  CHECK(f.read("s").shape.empty());
  CHECK(f.read("s").data == scalar.data);
}

TEST_CASE("safetensors: F16 and BF16 convert exactly to float", "[safetensors]") {
  CHECK(half_to_float(0x3c00) == 1.0f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x3555) == Approx(0.333251953125).epsilon(0));
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(half_to_float(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(std::isinf(half_to_float(0xfc00)));
  CHECK(half_to_float(0xfc00) < 0);
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(std::signbit(half_to_float(0x8000)));
  CHECK(bfloat16_to_float(0x3f80) == 1.0f);
  CHECK(bfloat16_to_float(0xc0a0) == -5.0f);

  testutil::TempDir d;
  // F16 [1, 0.5, -2] and BF16 [1, -5], little-endian.
  const std::string data("\x00\x3c\x00\x38\x00\xc0\x80\x3f\xa0\xc0", 10);
  auto path = golden::write_bytes(
      d.path / "half.safetensors",
      golden::safetensors_bytes(R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                                R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[6,10]}})",
                                data));
  SafetensorsFile f(path);
  CHECK(f.read("h").data == std::vector<float>{1.0f, 0.5f, -2.0f});
  CHECK(f.read("b", {1, 2}).data == std::vector<float>{1.0f, -5.0f});
}

TEST_CASE("safetensors: every malformed file gives one clear error", "[safetensors]") {
  testutil::TempDir d;
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good_data(8, '\0');
  auto file = [&](const std::string& name, const std::string& bytes) {
    return golden::write_bytes(d.path / name, bytes);
  };
  auto open = [](const std::string& path) { return [path] { SafetensorsFile f(path); }; };

  struct Case {
    const char* what;
    std::function<void()> fn;
    std::vector<std::string> expected;
  };
  const std::string good =
      file("good.safetensors", golden::safetensors_bytes(good_header, good_data));
  std::string huge_len = golden::safetensors_bytes(good_header, good_data);
  huge_len[5] = '\x01';  // header length 2^40 + ...
  const std::string truncated =
      golden::safetensors_bytes(good_header, good_data).substr(0, 8 + good_header.size() + 5);
  std::vector<Case> cases = {
      {"missing file",
       open((d.path / "nope.safetensors").string()),
       {"nope.safetensors", "not found"}},
      {"a folder", open(d.path.string()), {d.path.string(), "not found or not readable"}},
      {"shorter than the length field",
       open(file("short.safetensors", "abc")),
       {"short.safetensors", "too short"}},
      {"header length beyond the file",
       open(file("len.safetensors", huge_len)),
       {"len.safetensors", "header length", "does not fit"}},
      {"header not JSON",
       open(file("json.safetensors", golden::safetensors_bytes("{\"w\": [1,", good_data))),
       {"json.safetensors", "not valid JSON"}},
      {"header not an object",
       open(file("array.safetensors", golden::safetensors_bytes("[1, 2]", good_data))),
       {"array.safetensors", "not a JSON object"}},
      {"unknown dtype",
       open(file("dtype.safetensors",
                 golden::safetensors_bytes(
                     R"({"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", good_data))),
       {"dtype.safetensors", "tensor 'w'", "unknown dtype 'F17'", "F32, F64"}},
      {"truncated data",
       open(file("trunc.safetensors", truncated)),
       {"trunc.safetensors", "tensor 'w'", "data_offsets [0, 8]", "5-byte data buffer",
        "truncated"}},
      {"offsets disagree with the shape",
       open(file("span.safetensors",
                 golden::safetensors_bytes(
                     R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", good_data))),
       {"span.safetensors", "tensor 'w'", "span 8 bytes", "[3] of F32 needs 12"}},
      {"offsets missing",
       open(file("nooff.safetensors",
                 golden::safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", good_data))),
       {"nooff.safetensors", "tensor 'w'", "missing key 'data_offsets'"}},
      {"negative dimension",
       open(file("neg.safetensors",
                 golden::safetensors_bytes(
                     R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", good_data))),
       {"neg.safetensors", "tensor 'w'", "not a non-negative integer"}},
      {"missing tensor",
       [&] { SafetensorsFile(good).read("bias"); },
       {"good.safetensors", "missing tensor 'bias'"}},
      {"shape disagrees with the config",
       [&] {
         SafetensorsFile(good).read("w", {2, 1}, "config.json");
       },
       {"good.safetensors", "tensor 'w' has shape [2]", "config.json requires [2, 1]"}},
      {"integer tensor read as float",
       [&] {
         SafetensorsFile(
             file("int.safetensors",
                  golden::safetensors_bytes(
                      R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", good_data)))
             .read("ids");
       },
       {"int.safetensors", "tensor 'ids'", "dtype 'I64'", "F32, F16, BF16"}},
      {"overlapping tensors",
       open(file(
           "overlap.safetensors",
           golden::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     good_data))),
       {"overlap.safetensors", "tensors 'a'", "'b'", "[4, 8]", "overlap"}},
      {"an infinite weight",
       [&] {
         std::string data(8, '\0');
         data[2] = '\x80';  // 0x7f800000 little-endian in the second float: +inf
         data[3] = '\x7f';
         data[6] = '\x80';
         data[7] = '\x7f';
         SafetensorsFile(file("inf.safetensors", golden::safetensors_bytes(good_header, data)))
             .read("w", {2}, "config.json");
       },
       {"inf.safetensors", "tensor 'w'", "element 0 is inf", "must be finite"}},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string msg = error_of(c.fn);
    REQUIRE_FALSE(msg.empty());
    CHECK(msg.find('\n') == std::string::npos);
    for (const auto& e : c.expected) {
      INFO(msg);
      CHECK(msg.find(e) != std::string::npos);
    }
  }
  // The integer tensor does not stop the file from opening: only reading it fails.
  CHECK(error_of(open((d.path / "int.safetensors").string())).empty());
}

TEST_CASE("npy: format 1.0 header, 64-byte aligned, little-endian float32", "[safetensors]") {
  testutil::TempDir d;
  FloatTensor t({2, 3});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(i) + 0.5f;
  const std::string path = (d.path / "t.npy").string();
  write_npy(path, t);
  const std::string b = golden::slurp(path);
  REQUIRE(b.size() > 10);
  CHECK(b.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  CHECK((10 + hlen) % 64 == 0);
  const std::string header = b.substr(10, hlen);
  CHECK(header.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") == 0);
  CHECK(header.back() == '\n');
  REQUIRE(b.size() == 10 + hlen + 24);
  float first, last;
  std::memcpy(&first, b.data() + 10 + hlen, 4);
  std::memcpy(&last, b.data() + 10 + hlen + 20, 4);
  CHECK(first == 0.5f);
  CHECK(last == 5.5f);

  FloatTensor v({4});
  write_npy(path, v);
  CHECK(golden::slurp(path).find("'shape': (4,), }") != std::string::npos);

  FloatTensor bad({2, 2});
  bad.data.pop_back();
  CHECK(error_of([&] { write_npy(path, bad); }).find("4 elements but the tensor holds 3") !=
        std::string::npos);
  CHECK(error_of([&] { write_npy("/nonexistent-dir/x.npy", v); }).find("cannot open for writing") !=
        std::string::npos);
}

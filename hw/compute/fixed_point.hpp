// Q4.16 signed fixed point (20-bit words) as used by every AccelTran datapath.
// Values are stored in int32_t; the representable range is [-2^19, 2^19 - 1] LSBs,
// i.e. [-8, 8 - 2^-16]. Arithmetic helpers widen to int64_t so no intermediate overflows.
#pragma once
#include <cmath>
#include <cstdint>

namespace acceltran::fx {

constexpr int kFracBits = 16;
constexpr int kWordBits = 20;
constexpr int32_t kOne = 1 << kFracBits;              // 1.0
constexpr int32_t kMin = -(1 << (kWordBits - 1));     // -2^19 = -8.0
constexpr int32_t kMax = (1 << (kWordBits - 1)) - 1;  // 2^19 - 1 = 8 - 2^-16
constexpr double kLsb = 1.0 / kOne;

// Clamps a wide value to the 20-bit range.
constexpr int32_t saturate(int64_t v) {
  return v < kMin ? kMin : (v > kMax ? kMax : static_cast<int32_t>(v));
}
// Round-to-nearest (ties away from zero) conversion from double, saturating.
inline int32_t from_double(double x) {
  const double s = std::round(x * kOne);
  if (s <= kMin) return kMin;
  if (s >= kMax) return kMax;
  return static_cast<int32_t>(s);
}
constexpr double to_double(int32_t q) {
  return static_cast<double>(q) / kOne;
}
// |q| widened: |-2^19| = 2^19 does not fit a 20-bit word but fits int32_t.
constexpr int32_t abs_wide(int32_t q) {
  return q < 0 ? -q : q;
}
constexpr bool in_range(int64_t v) {
  return v >= kMin && v <= kMax;
}

// Arithmetic shift right with round-half-up (floor(v / 2^s + 1/2)).
constexpr int64_t shift_round(int64_t v, int s) {
  return s <= 0 ? v * (int64_t{1} << -s) : (v + (int64_t{1} << (s - 1))) >> s;
}
// Q4.16 x Q4.16 -> Q4.16, rounded and saturated.
constexpr int32_t mul(int32_t a, int32_t b) {
  return saturate(shift_round(static_cast<int64_t>(a) * b, kFracBits));
}
constexpr int32_t add(int32_t a, int32_t b) {
  return saturate(int64_t{a} + b);
}

}  // namespace acceltran::fx

#include <catch2/catch.hpp>

#include "acceltran/hw/area.hpp"
#include "compute_common.hpp"

using namespace acceltran;
using compute_test::accel;
using compute_test::tech;

TEST_CASE("compute: area of AccelTran-Edge is 54.06 mm2", "[compute][area]") {
  const auto a = compute_area(accel("edge"), tech());
  CHECK(a.total_mm2() == Approx(54.06).epsilon(0.001));
  double sum = 0;
  for (const auto& [name, um2] : a.rows())
    if (name != "total") sum += um2;
  CHECK(sum == Approx(a.total_um2).epsilon(1e-12));
  CHECK(a.per_pe_um2 * 64 == Approx(a.compute_um2).epsilon(1e-12));
  // Hand-computed per-block figures (um^2).
  CHECK(a.mac_lanes_um2 == Approx(1024 * 9418.667591));
  CHECK(a.softmax_um2 == Approx(64 * 4 * 87573.326116));
  CHECK(a.buffers_um2 == Approx(4 * 303305.83 + 8 * 294100.83 + 1 * 302565.0));
  CHECK(a.per_pe_um2 == Approx(784307.5).epsilon(1e-6));
}

TEST_CASE("compute: area of AccelTran-Server is 1829.70 mm2", "[compute][area]") {
  const auto a = compute_area(accel("server"), tech());
  CHECK(a.total_mm2() == Approx(1829.70).epsilon(0.001));
  CHECK(a.compute_um2 * 1e-6 == Approx(1798.75).epsilon(0.001));
  CHECK(a.buffers_um2 * 1e-6 == Approx(30.95).epsilon(0.001));
}

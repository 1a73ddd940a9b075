#include <catch2/catch.hpp>

#include "acceltran/config/accelerator_config.hpp"

using namespace acceltran;

namespace {
const std::string kModels = ACCELTRAN_MODELS_DIR_FOR_TESTS;
}

TEST_CASE("edge and server configs load and validate", "[config]") {
  auto tech = load_technology(kModels + "/technology.yaml");
  auto space = load_design_space(kModels + "/design_space.yaml");
  auto edge = load_accelerator(kModels + "/accelerators/edge.yaml", space, tech);
  CHECK(edge.name == "acceltran-edge");
  CHECK(edge.total_macs() == 16384);
  CHECK(edge.loop_order.str() == "b_i_j_k");
  CHECK(edge.main_memory.energy_key() == "dram_32_2_1");
  auto server = load_accelerator("server", space, tech);
  CHECK(server.total_macs() == 262144);
  CHECK(server.issue_width == 128);
  CHECK(tech.lane(16, "gelu").dynamic_mw == Approx(5.1955));
  CHECK(tech.softmax_for(16).area_um2 == Approx(87573.326116));
  CHECK(tech.fifo_depth_words == 32);
  CHECK(tech.main_memory_bandwidth_gbps.at("hb") == 256);
}

TEST_CASE("loop orders: 24 distinct permutations", "[config]") {
  auto all = LoopOrder::all();
  REQUIRE(all.size() == 24);
  CHECK(all.front().str() == "b_i_j_k");
  CHECK(all.back().str() == "k_j_i_b");
  CHECK(LoopOrder::parse("k_i_j_b").position('b') == 3);
  CHECK_THROWS_AS(LoopOrder::parse("b_i_i_k"), InputError);
}

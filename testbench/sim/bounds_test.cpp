// The critical path, the achievable bound and the ops' overlap in a run's report
// (docs/performance.md, "Bounds"; docs/user-guide.md, "The report").
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

using nlohmann::json;
using testutil::TempDir;

namespace {

json run_sim(const TempDir& d, const std::string& args, const std::string& sub,
             std::string* printed = nullptr) {
  const auto out = (d.path / sub).string();
  const auto r = testutil::run_cli("simulate " + args + " --out " + out);
  INFO("args: " << args << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  if (printed) *printed = r.out;
  std::ifstream in(out + "/report.json");
  REQUIRE(in.good());
  return json::parse(in);
}

// Critical path <= achievable bound <= cycles; the achievable bound is the largest of the
// critical path and the resource bounds; the path is its ops' cycles plus its memory cycles.
void check_bounds(const json& j) {
  const double cycles = j["cycles"].get<double>();
  const double critical = j["critical_path"]["cycles"].get<double>();
  const double achievable = j["achievable_bound"]["cycles"].get<double>();
  CHECK(critical > 0);
  CHECK(critical <= achievable);
  CHECK(achievable <= cycles);
  double largest = critical;
  std::string limit = "critical_path";
  for (auto& [name, bound] : j["bounds_cycles"].items())
    if (bound.get<double>() > largest) {
      largest = bound.get<double>();
      limit = name;
    }
  CHECK(achievable == Approx(largest));
  CHECK(j["achievable_bound"]["limit"] == limit);
  CHECK(j["efficiency_vs_critical_path"].get<double>() == Approx(critical / cycles));
  CHECK(j["efficiency_vs_achievable_bound"].get<double>() == Approx(achievable / cycles));
  double on_path = j["critical_path"]["memory_cycles"].get<double>();
  for (const auto& op : j["ops"]) {
    on_path += op["critical_path_cycles"].get<double>();
    // An op takes at least its shortest duration (all its tiles over all its units).
    if (op["tiles"].get<uint64_t>() > 0)
      CHECK(op["last_cycle"].get<double>() - op["first_cycle"].get<double>() >=
            op["shortest_cycles"].get<double>());
  }
  CHECK(on_path == Approx(critical));
  CHECK(j["critical_path"]["op_count"] == j["critical_path"]["ops"].size());
  // The cycles above the achievable bound, and a cause named when efficiency is below 0.8.
  const json& loss = j["efficiency_loss"];
  CHECK(loss["cycles"].get<double>() == Approx(cycles - achievable));
  const std::string cause = loss["cause"];
  if (achievable / cycles >= 0.8)
    CHECK(cause == "none");
  else
    CHECK((cause == "schedule" || cause.rfind("stalls_", 0) == 0));
  CHECK(!loss["detail"].get<std::string>().empty());
}

// Each op's overlap recounted pair by pair: other ops running at its first cycle, and the
// cycles of its span covered by at least one other op's span.
void check_overlap(const json& j) {
  const auto& ops = j["ops"];
  double op_cycles = 0;
  for (const auto& op : ops) {
    if (op["tiles"].get<uint64_t>() == 0) continue;
    const uint64_t first = op["first_cycle"], last = op["last_cycle"];
    op_cycles += static_cast<double>(last - first);
    uint64_t in_flight = 0;
    std::vector<std::pair<uint64_t, uint64_t>> others;
    for (const auto& other : ops) {
      if (&other == &op || other["tiles"].get<uint64_t>() == 0) continue;
      const uint64_t o_first = other["first_cycle"], o_last = other["last_cycle"];
      if (o_first <= first && first < o_last) ++in_flight;
      if (o_first < last && first < o_last)
        others.emplace_back(std::max(first, o_first), std::min(last, o_last));
    }
    std::sort(others.begin(), others.end());
    uint64_t covered = 0, reached = first;
    for (const auto& [from, to] : others) {
      if (to > reached) covered += to - std::max(from, reached);
      reached = std::max(reached, to);
    }
    INFO(op["name"].get<std::string>());
    CHECK(op["ops_in_flight_at_start"].get<uint64_t>() == in_flight);
    CHECK(op["overlap_cycles"].get<uint64_t>() == covered);
  }
  CHECK(j["op_overlap"]["ops_in_flight_average"].get<double>() ==
        Approx(op_cycles / j["cycles"].get<double>()));
}

}  // namespace

TEST_CASE("critical path <= achievable bound <= cycles over a few runs", "[sim][bounds]") {
  TempDir d;
  const std::vector<std::string> runs = {
      "",
      "--accel server",
      "--model bert-mini --seq-len 256",
      "--profile reference",
      "--profile reference --reference-bugs all",
      "--tiles-per-instruction 1",
      "--loop-order k_i_j_b",
      "--set activation_buffer_mb=1 --set weight_buffer_mb=1 --allow-outside-design-space",
      "--functional --threshold 0.02"};
  for (size_t n = 0; n < runs.size(); ++n) {
    INFO("simulate " << runs[n]);
    const json j = run_sim(d, runs[n], "run" + std::to_string(n));
    check_bounds(j);
    check_overlap(j);
  }
}

// BERT-Tiny on Edge (1024 MAC lanes of 16 MACs, 256 softmax and 64 layer-norm modules, tile
// 1x16x16), batch 4, sequence 16, sparsities 0.5. One tile (docs/compute.md, "Timing of one
// tile"): a matmul on a dense layer-norm output and a 0.5-sparse weight: 16x16x16 x 0.5 = 2048
// effectual MACs, 5 + 2048 / 16 = 133 cycles; on two 0.5-sparse operands 1024 MACs, 69 cycles;
// add and activation 5 + 256 / 16 = 21; softmax 16 + 2 x 4 + 3 = 27; layer norm 16 + 4 + 7 = 27.
// Every op has at most 1024 tiles (the FFN: 4 x 1 x 32 x 8), so each takes one tile's time.
// The chain: the up-projection of layer 0 waits for its weight loads (together at the peak
// bandwidth), then every op after it, one per op on the path through head 0:
//   layer 0 from ffn0.up: up 133 + act 21 + down 69 + add 21 + ln 27 = 271
//   layer 1: qkv 133 + qk 69 + softmax 27 + pv 69 + o 69 + add 21 + ln 27
//            + up 133 + act 21 + down 69 + add 21 + ln 27 = 686
// = 957 cycles of tile jobs, plus the loads of L0.ffn0.up (weight 81,920 + 8,192 mask bytes,
// bias 1,280 + 64) and one part of the output's STORE_M (5,120 + 256 bytes; the four parts do
// not depend on each other) at the peak bandwidth, 25.6 GB/s / 700 MHz = 36.57 bytes per cycle:
// 96,832 / 36.57 = 2,647.75 cycles; 3,604.75 in all.
TEST_CASE("BERT-Tiny at sequence 16: the critical path by hand", "[sim][bounds]") {
  TempDir d;
  std::string printed;
  const json j = run_sim(d, "--seq-len 16", "out", &printed);
  const acceltran::Program prog = testutil::compile("bert-tiny", "hardware", "edge", 0, 16);
  acceltran::OpId up = acceltran::kNone;
  for (const auto& op : prog.ops)
    if (op.name == "L0.ffn0.up") up = op.id;
  REQUIRE(up != acceltran::kNone);
  uint64_t memory_bytes = 0, store_bytes = 0;
  for (const auto& in : prog.instrs) {
    if (in.opcode == acceltran::Opcode::LOAD_W && in.op == up)
      memory_bytes += in.data_bytes + in.mask_bytes;
    if (in.opcode == acceltran::Opcode::STORE_M)
      store_bytes = std::max(store_bytes, in.data_bytes + in.mask_bytes);
  }
  CHECK(memory_bytes == 91'456);
  CHECK(store_bytes == 5'376);
  memory_bytes += store_bytes;
  const double bytes_per_cycle = j["memory"]["peak_bandwidth_gbps"].get<double>() * 1e9 / 700e6;
  CHECK(j["critical_path"]["memory_cycles"].get<double>() ==
        Approx(static_cast<double>(memory_bytes) / bytes_per_cycle));
  CHECK(j["critical_path"]["cycles"].get<double>() ==
        Approx(957 + static_cast<double>(memory_bytes) / bytes_per_cycle));
  CHECK(j["critical_path"]["cycles"].get<double>() == Approx(3604.75));
  CHECK(j["critical_path"]["op_count"] == 17);
  CHECK(j["critical_path"]["ops"][0] == "L0.ffn0.up");
  const std::vector<std::pair<std::string, double>> shortest = {
      {"L0.attn.qkv", 133}, {"L0.H0.qk", 69},    {"L0.H0.softmax", 27}, {"L0.attn.o", 69},
      {"L0.attn.ln", 27},   {"L0.ffn0.up", 133}, {"L0.ffn.down", 69},   {"emb.add", 21}};
  for (const auto& [name, cycles] : shortest)
    for (const auto& op : j["ops"])
      if (op["name"] == name) {
        INFO(name);
        CHECK(op["shortest_cycles"].get<double>() == cycles);
      }
  CHECK(printed.find("  critical path: ") != std::string::npos);
  CHECK(printed.find("  achievable bound: ") != std::string::npos);
  CHECK(printed.find("  efficiency loss: ") != std::string::npos);
  std::ifstream ops_csv((d.path / "out" / "ops.csv").string());
  std::string header;
  std::getline(ops_csv, header);
  CHECK(header.find(",energy_nj,shortest_cycles,critical_path_cycles,ops_in_flight_at_start,"
                    "overlap_cycles") != std::string::npos);
  std::ifstream report_csv((d.path / "out" / "report.csv").string());
  std::stringstream rows;
  rows << report_csv.rdbuf();
  for (const char* key : {"\ncritical_path.cycles,", "\nachievable_bound.cycles,",
                          "\nachievable_bound.limit,memory", "\nefficiency_vs_critical_path,",
                          "\nefficiency_vs_achievable_bound,", "\nefficiency_loss.cause,"})
    CHECK(rows.str().find(key) != std::string::npos);
}

// BERT-Tiny on Server is far from its achievable bound (the activation buffer's ports) with
// compute in flight most of the time: the report names the schedule, with the limit's busy
// share; BERT-Tiny on Edge is within 0.8 of its bound: no cause.
TEST_CASE("efficiency loss: a cause is named below 0.8 of the achievable bound", "[sim][bounds]") {
  TempDir d;
  const json server = run_sim(d, "--model bert-tiny --accel server", "server");
  check_bounds(server);
  CHECK(server["efficiency_vs_achievable_bound"].get<double>() < 0.8);
  CHECK(server["efficiency_loss"]["cause"] == "schedule");
  const std::string limit = server["achievable_bound"]["limit"];
  CHECK(server["efficiency_loss"]["detail"].get<std::string>().find("leaves " + limit + " idle") !=
        std::string::npos);
  const json edge = run_sim(d, "--model bert-tiny --accel edge", "edge");
  CHECK(edge["efficiency_loss"]["cause"] == "none");
}

TEST_CASE("residency: element-wise outputs overwrite their dead inputs in place", "[sim]") {
  // BERT-Tiny/Edge at batch 32: the FFN's GELU output (about 2.6 MB zero-free) does not fit the
  // 4 MB activation buffer next to its input and the residual; written in place it needs no
  // spill of the residual (1.1 MB per layer before).
  TempDir d;
  const std::string args = "--batch 32 --set batch_size=32 --model bert-tiny --accel edge";
  const json in_place = run_sim(d, args, "hw");
  CHECK(in_place["memory"]["activation_buffer_in_place_parts"].get<double>() > 0);
  CHECK(in_place["memory"]["spill_bytes"].get<double>() < 1'000'000);
  // The reference profile keeps the published rule (no in-place writes).
  const json reference = run_sim(d, args + " --profile reference", "ref");
  CHECK(reference["memory"]["activation_buffer_in_place_parts"].get<double>() == 0);
}

// The VCD trace (hw/control/tracer.cpp): one scope per block, signed values, every signal driven by its
// block, the trace window honoured at both ends. The VCD is parsed here, not just grepped.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../compiler/test_util.hpp"

using testutil::run_cli;
using testutil::TempDir;

namespace {

struct Vcd {
  std::string timescale;
  std::set<std::string> scopes;                            // every $scope module name
  std::map<std::string, std::string> name_of;              // id code -> scope.signal
  std::map<std::string, int> width;                        // scope.signal -> bits
  std::map<std::string, std::vector<std::string>> values;  // scope.signal -> values in order
  std::map<std::string, std::vector<uint64_t>> times;      // ... and their time stamps
  std::vector<uint64_t> stamps;                            // every #t
};

Vcd parse_vcd(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  Vcd v;
  std::vector<std::string> scope;
  std::string tok;
  uint64_t now = 0;
  bool header = true;
  auto record = [&](const std::string& id, const std::string& val) {
    auto it = v.name_of.find(id);
    REQUIRE(it != v.name_of.end());
    v.values[it->second].push_back(val);
    v.times[it->second].push_back(now);
  };
  while (in >> tok) {
    if (header) {
      if (tok == "$timescale") {
        std::string t;
        while (in >> t && t != "$end") v.timescale += (v.timescale.empty() ? "" : " ") + t;
      } else if (tok == "$scope") {
        std::string kind, name, end;
        in >> kind >> name >> end;
        scope.push_back(name);
        v.scopes.insert(name);
      } else if (tok == "$upscope") {
        scope.pop_back();
      } else if (tok == "$var") {
        std::string kind, id, name, t;
        int bits = 0;
        in >> kind >> bits >> id >> name;
        while (in >> t && t != "$end") {
        }
        // Drop the top "SystemC" scope: scope.signal.
        std::string full;
        for (size_t i = 1; i < scope.size(); ++i) full += scope[i] + ".";
        full += name;
        v.name_of[id] = full;
        v.width[full] = bits;
      } else if (tok == "$enddefinitions") {
        header = false;
      }
      continue;
    }
    if (tok == "$comment") {
      std::string t;
      while (in >> t && t != "$end") {
      }
      continue;
    }
    if (tok[0] == '#') {
      now = std::stoull(tok.substr(1));
      v.stamps.push_back(now);
    } else if (tok[0] == 'b' || tok[0] == 'r') {
      std::string id;
      in >> id;
      record(id, tok.substr(1));
    } else if (tok[0] == '0' || tok[0] == '1' || tok[0] == 'x' || tok[0] == 'z') {
      record(tok.substr(1), tok.substr(0, 1));
    }  // $dumpvars / $end / $comment words are skipped
  }
  return v;
}

// A binary VCD value of `bits` bits as a two's-complement signed number.
int64_t as_signed(const std::string& b, int bits) {
  uint64_t u = 0;
  for (char c : b) u = (u << 1) | (c == '1' ? 1u : 0u);
  // VCD drops leading zeros: a value shorter than the width is non-negative.
  if (static_cast<int>(b.size()) < bits || bits >= 64) return static_cast<int64_t>(u);
  if (u >> (bits - 1) & 1) return static_cast<int64_t>(u) - (int64_t{1} << bits);
  return static_cast<int64_t>(u);
}

const std::vector<std::string> kSignals = {"control.cycle",
                                           "control.issued",
                                           "control.completed",
                                           "control.layer",
                                           "control.op_id",
                                           "control.compute_in_flight",
                                           "pe_array.busy_lanes",
                                           "softmax.busy_units",
                                           "layer_norm.busy_units",
                                           "dynatran.active_lanes",
                                           "activation_buffer.used_bytes",
                                           "weight_buffer.used_bytes",
                                           "mask_buffer.used_bytes",
                                           "dma.in_flight",
                                           "dma.busy_engines",
                                           "dma.bytes",
                                           "main_memory.busy",
                                           "main_memory.bytes"};

// The value of `sig` at time stamp t (the last change at or before t), as an unsigned number.
uint64_t value_at(const Vcd& v, const std::string& sig, uint64_t t) {
  const auto& ts = v.times.at(sig);
  const auto it = std::upper_bound(ts.begin(), ts.end(), t);
  REQUIRE(it != ts.begin());
  return std::stoull(v.values.at(sig)[static_cast<size_t>(it - ts.begin()) - 1], nullptr, 2);
}

}  // namespace

TEST_CASE("VCD of BERT-Tiny/Edge: a scope per block, every signal changes, layer is signed",
          "[sim][vcd]") {
  TempDir d;
  const auto vcd = (d.path / "tiny.vcd").string();
  auto r = run_cli("simulate --vcd " + vcd + " --out " + (d.path / "o").string());
  REQUIRE(r.exit_code == 0);
  // SystemC's I703 time-unit note is not printed.
  CHECK(r.out.find("I703") == std::string::npos);
  CHECK(r.err.find("I703") == std::string::npos);
  const Vcd v = parse_vcd(vcd);
  CHECK(v.timescale == "1 ps");
  for (const char* s : {"control", "pe_array", "softmax", "layer_norm", "dynatran",
                        "activation_buffer", "weight_buffer", "mask_buffer", "dma", "main_memory"})
    CHECK(v.scopes.count(s) == 1);
  for (const auto& s : kSignals) {
    INFO(s);
    REQUIRE(v.values.count(s) == 1);
    const auto& vals = v.values.at(s);
    // Every block is used by BERT-Tiny: its signal takes at least two values.
    CHECK(std::set<std::string>(vals.begin(), vals.end()).size() >= 2);
  }
  // layer is -1 before the first compute instruction, then 0 and 1.
  std::set<int64_t> layers;
  for (const auto& b : v.values.at("control.layer"))
    layers.insert(as_signed(b, v.width.at("control.layer")));
  CHECK(layers.count(-1) == 1);
  CHECK(layers.count(0) == 1);
  CHECK(layers.count(1) == 1);
  CHECK(*layers.rbegin() == 1);
  // op_id is -1 until the first tile job, then the ids of the ops.
  std::set<int64_t> ops;
  for (const auto& b : v.values.at("control.op_id")) ops.insert(as_signed(b, 32));
  CHECK(*ops.begin() == -1);
  CHECK(ops.size() > 10);
  // The units' own state is sampled, not only the control block's instruction events: the
  // softmax and layer-norm units go idle at cycles where no instruction completes.
  CHECK(v.stamps.size() > 2 * 116);
  // The report says how busy each engine is; the trace agrees that softmax and layer norm ran.
  const auto& sm = v.values.at("softmax.busy_units");
  CHECK(std::any_of(sm.begin(), sm.end(), [](const std::string& b) { return b != "0"; }));
  // DynaTran is active only on lanes running pruned ops: never more than the busy lanes.
  const auto& dt = v.values.at("dynatran.active_lanes");
  CHECK(std::any_of(dt.begin(), dt.end(), [](const std::string& b) { return b != "0"; }));
  // At every time stamp: DynaTran lanes <= busy lanes <= the 1,024 lanes of acceltran-edge, and
  // some unit changes state at time stamps where no instruction is issued or completed.
  size_t between_events = 0;
  uint64_t prev_issued = 0, prev_completed = 0, prev_lanes = 0, prev_sm = 0, prev_ln = 0;
  for (uint64_t t : v.stamps) {
    INFO(t);
    const uint64_t lanes = value_at(v, "pe_array.busy_lanes", t);
    CHECK(value_at(v, "dynatran.active_lanes", t) <= lanes);
    CHECK(lanes <= 1024);
    const uint64_t issued = value_at(v, "control.issued", t);
    const uint64_t completed = value_at(v, "control.completed", t);
    const uint64_t sm_units = value_at(v, "softmax.busy_units", t);
    const uint64_t ln_units = value_at(v, "layer_norm.busy_units", t);
    if (issued == prev_issued && completed == prev_completed &&
        (lanes != prev_lanes || sm_units != prev_sm || ln_units != prev_ln))
      ++between_events;
    prev_issued = issued;
    prev_completed = completed;
    prev_lanes = lanes;
    prev_sm = sm_units;
    prev_ln = ln_units;
  }
  CHECK(between_events > 0);
}

TEST_CASE("VCD trace window: nothing before T0 but the initial values, nothing after T1",
          "[sim][vcd]") {
  TempDir d;
  const auto vcd = (d.path / "w.vcd").string();
  auto r = run_cli("simulate --vcd " + vcd + " --trace-window 3000:9000 --out " +
                   (d.path / "o").string());
  REQUIRE(r.exit_code == 0);
  const Vcd v = parse_vcd(vcd);
  REQUIRE(!v.stamps.empty());
  const double ps_per_cycle = 1e6 / 700.0;  // acceltran-edge runs at 700 MHz
  const auto t0 = static_cast<uint64_t>(3000 * ps_per_cycle);
  const auto t1 = static_cast<uint64_t>(9000 * ps_per_cycle + 1);
  for (uint64_t t : v.stamps) {
    INFO(t);
    CHECK((t == 0 || t >= t0));
    CHECK(t <= t1);
  }
  // The window's last cycle is sampled: the dump ends at T1, not at the last change before it.
  CHECK(v.stamps.back() + 2 >= t1);
  // Something happens inside the window.
  CHECK(v.stamps.size() > 10);
}

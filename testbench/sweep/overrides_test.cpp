#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../compiler/test_util.hpp"
#include "sweep_util.hpp"

using testutil::run_cli;
using testutil::TempDir;

namespace {

using sweeptest::slurp;

std::string simulate(const TempDir& d, const std::string& args, const std::string& sub) {
  auto r = run_cli("simulate " + args + " --timeline-samples 20 --out " + (d.path / sub).string());
  INFO("args: " << args << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return slurp(d.path / sub / "report.json");
}

// The Edge YAML with pe 128 and an HBM main memory, written out in full.
std::string full_yaml() {
  std::string y = slurp(testutil::kModels + "/accelerators/edge.yaml");
  auto rep = [&](const std::string& a, const std::string& b) {
    auto at = y.find(a);
    REQUIRE(at != std::string::npos);
    y.replace(at, a.size(), b);
  };
  rep("\npe: 64", "\npe: 128");
  rep("type: dram", "type: hbm");
  rep("banks: 32, ranks: 2, channels: 1", "banks: 32, ranks: 1, channels: 4");
  return y;
}

}  // namespace

TEST_CASE("base: gives a report byte-identical to the equivalent full YAML", "[overrides]") {
  TempDir d;
  const auto path = d.write("accel.yaml", full_yaml());
  const auto full = simulate(d, "--accel " + path, "full");
  // The same file name, now listing only the changes from the built-in Edge design.
  d.write("accel.yaml", "base: edge\npe: 128\nmain_memory: {type: hbm, ranks: 1, channels: 4}\n");
  const auto based = simulate(d, "--accel " + path, "based");
  CHECK(based == full);
  // base: may also name a file, relative to the YAML that names it.
  d.write("edge-copy.yaml", slurp(testutil::kModels + "/accelerators/edge.yaml"));
  d.write("accel.yaml",
          "base: edge-copy.yaml\npe: 128\nmain_memory: {type: hbm, ranks: 1, channels: 4}\n");
  CHECK(simulate(d, "--accel " + path, "based-file") == full);
}

TEST_CASE("set overrides give the report of the equivalent full YAML", "[overrides]") {
  TempDir d;
  const auto path = d.write("accel.yaml", full_yaml());
  const auto full = simulate(d, "--accel " + path, "full");
  d.write("accel.yaml", slurp(testutil::kModels + "/accelerators/edge.yaml"));
  const std::string sets =
      "--set pe=128 --set main_memory.type=hbm --set main_memory.ranks=1 "
      "--set main_memory.channels=4";
  auto with_set = nlohmann::ordered_json::parse(simulate(d, "--accel " + path + " " + sets, "set"));
  // The source names the overrides; everything else is byte for byte the full YAML's report.
  CHECK(with_set["inputs"]["accelerator_source"] ==
        path +
            " (--set pe=128, --set main_memory.type=hbm, --set main_memory.ranks=1, "
            "--set main_memory.channels=4)");
  with_set["inputs"]["accelerator_source"] = path;
  // The command lines differ (inputs.command_line); the rest is the full YAML's report.
  with_set["inputs"]["command_line"] =
      nlohmann::ordered_json::parse(full)["inputs"]["command_line"];
  CHECK(with_set.dump(2) + "\n" == full);
  // A flow value sets a mapping.
  auto flow = nlohmann::ordered_json::parse(
      simulate(d,
               "--accel " + path +
                   " --set pe=128 --set 'main_memory={type: hbm, bandwidth: lb, "
                   "banks: 32, ranks: 1, channels: 4}'",
               "flow"));
  flow["inputs"]["accelerator_source"] = path;
  flow["inputs"]["command_line"] = with_set["inputs"]["command_line"];
  CHECK(flow.dump(2) + "\n" == full);
  // A mapping merges key by key into the one it overrides, as under base:.
  auto merged = nlohmann::ordered_json::parse(simulate(
      d, "--accel " + path + " --set pe=128 --set 'main_memory={type: hbm, ranks: 1, channels: 4}'",
      "merged"));
  merged["inputs"]["accelerator_source"] = path;
  merged["inputs"]["command_line"] = with_set["inputs"]["command_line"];
  CHECK(merged.dump(2) + "\n" == full);
}

TEST_CASE("bad --set keys and values give one clear error", "[overrides]") {
  struct Case {
    std::string set, expect;
  } cases[] = {
      {"pe=100", "key 'pe': value 100 is outside the design space; allowed: 64, 128, 256"},
      {"pe=abc", "key 'pe': value 'abc' is not an integer"},
      {"main_memory.type=flash",
       "key 'main_memory.type': value 'flash' unknown; allowed: rram, "
       "dram, hbm"},
      {"pes=128", "unknown key 'pes' (did you mean 'pe'?); allowed keys: "},
      {"tile.tile_z=8", "unknown key 'tile.tile_z' (did you mean 'tile_b'?); allowed keys: tile_b, "
                        "tile_x, tile_y"},
      {"pe.count=2", "key 'pe' holds a value, not a mapping"},
      {"pe", "'pe' must be KEY=VALUE"},
      {"base=server", "key 'base' cannot be overridden"},
  };
  for (const auto& c : cases) {
    TempDir d;
    auto r = run_cli("simulate --set '" + c.set + "' --out " + (d.path / "o").string());
    INFO(c.set << "\nstderr: " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.rfind("error: ", 0) == 0);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(!std::filesystem::exists(d.path / "o" / "report.json"));
  }
}

TEST_CASE("base: cycles and bad bases are reported", "[overrides]") {
  TempDir d;
  d.write("a.yaml", "base: b.yaml\npe: 128\n");
  d.write("b.yaml", "base: a.yaml\n");
  auto r = run_cli("simulate --accel " + (d.path / "a.yaml").string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("key 'base': cycle") != std::string::npos);
  d.write("c.yaml", "base: nosuch\n");
  r = run_cli("simulate --accel " + (d.path / "c.yaml").string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("built-ins: edge, server") != std::string::npos);
}

// tools/reference_variants.py: each rewrite of the reference stream is a valid stream that the
// simulator runs to completion, and it changes exactly what docs/fidelity.md says it changes.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_util.hpp"

using namespace acceltran;

namespace {

std::string tool() {
  return (std::filesystem::path(testutil::kModels) / ".." / "tools" / "reference_variants.py")
      .lexically_normal()
      .string();
}

Program read(const std::filesystem::path& p) {
  return read_program_file(p.string());
}

size_t count_named(const Program& p, const std::string& op_name) {
  size_t n = 0;
  for (const auto& in : p.instrs)
    if (in.op != kNone && p.ops[in.op].name == op_name) ++n;
  return n;
}

}  // namespace

TEST_CASE("reference_variants.py: every variant simulates and rewrites what it says",
          "[compiler][fidelity]") {
  testutil::TempDir d;
  const std::string cmd =
      fmt::format("python3 {} --bin {} --keep {} > {} 2>&1", tool(), testutil::kBin,
                  d.path.string(), (d.path / "table.txt").string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream t(d.path / "table.txt");
  std::stringstream table;
  table << t.rdbuf();
  INFO(table.str());
  CHECK(table.str().find("all of the above") != std::string::npos);

  const Program base = read(d.path / "reference.txt");
  REQUIRE(base.instrs.size() == 108);

  // no-emb-ln: the layer norm and its store are gone, the heads read the embedding table.
  const Program e = read(d.path / "no-emb-ln.txt");
  CHECK(e.instrs.size() == base.instrs.size() - 2);
  CHECK(e.ops.size() == base.ops.size() - 1);  // the op is gone (ops are renumbered)
  CHECK(count_named(e, "emb.ln") == 0);  // the table's LOAD_W now serves the next op
  for (const auto& op : e.ops)
    if (op.name == "L0.H0.q") CHECK(e.tensors[op.inputs[0]].name == "emb.table");

  // no-head-sum: the two attn.add ops lose their EWISE and STORE_A.
  const Program h = read(d.path / "no-head-sum.txt");
  CHECK(h.instrs.size() == base.instrs.size() - 4);
  CHECK(count_named(h, "L0.attn.add") == 0);

  // no-store-m: one instruction fewer, no STORE_M.
  const Program m = read(d.path / "no-store-m.txt");
  CHECK(m.instrs.size() == base.instrs.size() - 1);
  for (const auto& in : m.instrs) CHECK(in.opcode != Opcode::STORE_M);

  // qkv-loads-first: a head's three weight loads come before its first tile job.
  const Program q = read(d.path / "qkv-loads-first.txt");
  REQUIRE(q.instrs.size() == base.instrs.size());
  for (size_t n = 0; n + 3 < q.instrs.size(); ++n)
    if (q.instrs[n].opcode == Opcode::LOAD_W && q.tensors[q.instrs[n].tensor].name == "L0.H0.q.w") {
      CHECK(q.tensors[q.instrs[n + 1].tensor].name == "L0.H0.k.w");
      CHECK(q.tensors[q.instrs[n + 2].tensor].name == "L0.H0.v.w");
      CHECK(q.instrs[n + 3].opcode == Opcode::MATMUL);
    }

  // heads-parallel: the tile jobs of the two heads of a layer alternate.
  const Program hp = read(d.path / "heads-parallel.txt");
  int last_head = -2, alternations = 0;
  for (const auto& in : hp.instrs)
    if (is_compute(in.opcode) && hp.ops[in.op].head >= 0) {
      if (last_head >= 0 && hp.ops[in.op].head != last_head) ++alternations;
      last_head = hp.ops[in.op].head;
    }
  CHECK(alternations > 20);

  // emb-rows: the table grows by the 128 position rows.
  const Program r = read(d.path / "emb-rows.txt");
  CHECK(r.tensors[0].rows == 30522 + 128);
  CHECK(r.tensors[0].data_bytes == (30522 + 128) * 128 * 10 / 8);

  // Every variant ran: its report exists.
  for (const char* v :
       {"base", "emb-rows", "no-emb-ln", "no-head-sum", "no-ln-act-store", "no-store-m",
        "qkv-loads-first", "heads-parallel", "published-deps", "all8"})
    CHECK(std::filesystem::exists(d.path / v / "report.json"));
}

TEST_CASE("reference_variants.py: an unknown variant is an error", "[compiler][fidelity]") {
  const std::string cmd =
      fmt::format("python3 {} --bin {} bogus > /dev/null 2>&1", tool(), testutil::kBin);
  const int rc = std::system(cmd.c_str());
  CHECK(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 1);
}

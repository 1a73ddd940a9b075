// The reference profile's op graph and memory stream against the published AccelTran simulator
// (jha-lab/acceltran, simulator/src/dict2ops.py get_ops, ops.py convert_to_fwd_base_ops;
// config/config_tiny.yaml): docs/fidelity.md rules A1, A2, A4, A6, C2, C3, C9.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <sstream>
#include <string>
#include <vector>

#include "acceltran/compiler/isa_text.hpp"
#include "test_util.hpp"

using namespace acceltran;

namespace {

Program reference(const PublishedBehaviours& f = PublishedBehaviours(), bool published_deps = false,
                  bool unstored = false) {
  testutil::Setup s;
  CompileOptions o;
  o.profile = Profile::reference;
  o.published = f;
  o.published.published_deps = published_deps;
  o.published.unstored_outputs = unstored;
  return compile_program(load_model(testutil::kModels + "/transformers/bert-tiny.json"),
                         s.accel("edge"), s.tech, o);
}

// "LOAD_W L0.H0.q": a memory instruction by opcode and the op it serves.
std::string mem_name(const Program& p, const Instruction& in) {
  return fmt::format("{} {}", to_string(in.opcode),
                     in.op == kNone ? p.tensors[in.tensor].name : p.ops[in.op].name);
}

// Published memory ops of one head in list order (convert_to_fwd_base_ops): q-l, k-l, v-l,
// q-s, k-s, v-s, sdp-qk-s, sftm-s, sdp-v-s, o-l, o-s.
std::vector<std::string> published_head(int l, int h) {
  const std::string p = fmt::format("L{}.H{}.", l, h);
  return {"LOAD_W " + p + "q",   "LOAD_W " + p + "k",        "LOAD_W " + p + "v",
          "STORE_A " + p + "q",  "STORE_A " + p + "k",       "STORE_A " + p + "v",
          "STORE_A " + p + "qk", "STORE_A " + p + "softmax", "STORE_A " + p + "pv",
          "LOAD_W " + p + "o",   "STORE_A " + p + "o"};
}

}  // namespace

TEST_CASE("reference graph: BERT-Tiny/Edge memory stream is the published one, op by op",
          "[compiler][fidelity]") {
  // With --reference-bugs unstored-outputs (A6): the published stream exactly.
  const Program p = reference(PublishedBehaviours(), false, true);
  std::vector<const Instruction*> mem;
  size_t compute = 0;
  for (const auto& in : p.instrs) {
    if (is_memory(in.opcode))
      mem.push_back(&in);
    else
      ++compute;
  }
  // 53 memory ops (emb; 11 per head; f-l and f-s per FFN product) and 40 compute ops.
  REQUIRE(mem.size() == 53);
  CHECK(compute == 40);
  // A1: the first memory op loads the word table and the 128 position rows, without the batch
  // dimension, as weight-side data.
  const Tensor& emb = p.tensors[mem[0]->tensor];
  CHECK(mem[0]->opcode == Opcode::LOAD_W);
  CHECK(emb.name == "emb.table");
  CHECK(emb.cls == TensorClass::embedding);
  CHECK(emb.batch == 1);
  CHECK(emb.rows == 30522 + 128);
  CHECK(emb.cols == 128);
  CHECK(mem[0]->data_bytes == (30522ull + 128) * 128 * 20 / 2 / 8);  // 20 bits x (1 - 0.5)
  CHECK(mem[0]->mask_bytes == (30522ull + 128) * 128 / 8);
  // A2: no embedding layer norm; the first projections read the table.
  for (const auto& op : p.ops) {
    CHECK(op.name != "emb.ln");
    if (op.name == "L0.H0.q" || op.name == "L0.H1.v") CHECK(op.inputs[0] == mem[0]->tensor);
  }
  // C3: per head the published memory order; A6: FFN products store, activations and layer
  // norms do not (unstored-outputs); C9: nothing is written back to main memory.
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < 2; ++h) {
      std::vector<std::string> got;
      for (const Instruction* in : mem)
        if (in->op != kNone && p.ops[in->op].layer == l && p.ops[in->op].head == h && in != mem[0])
          got.push_back(mem_name(p, *in));
      CHECK(got == published_head(l, h));
    }
    std::vector<std::string> ffn;
    for (const Instruction* in : mem)
      if (p.ops[in->op].layer == l && p.ops[in->op].head < 0) ffn.push_back(mem_name(p, *in));
    const std::string L = fmt::format("L{}.", l);
    CHECK(ffn == std::vector<std::string>{"LOAD_W " + L + "ffn0.up", "STORE_A " + L + "ffn0.up",
                                          "LOAD_W " + L + "ffn.down", "STORE_A " + L + "ffn.down"});
  }
  for (const Instruction* in : mem) CHECK(in->opcode != Opcode::STORE_M);
  // The last instruction is the last layer norm's tile job (published: the run ends with it).
  CHECK(p.instrs.back().opcode == Opcode::LAYERNORM);
  CHECK(p.ops[p.instrs.back().op].name == "L1.ffn.ln");
  // A4: no head sum; ln_<l>_1 reads the last head's output projection.
  for (const auto& op : p.ops)
    if (op.name == "L0.attn.ln") CHECK(p.tensors[op.inputs[0]].name == "L0.H1.o");

  // The reference profile as it runs by default (A6 fixed): the same stream plus a STORE_A after
  // each layer norm and activation (4 per layer), each right after its tile job.
  const Program f = reference();
  std::vector<std::string> extra;
  size_t n = 0;
  for (const auto& in : f.instrs) {
    if (!is_memory(in.opcode)) continue;
    if (n < mem.size() && mem_name(f, in) == mem_name(p, *mem[n])) {
      ++n;
      continue;
    }
    extra.push_back(mem_name(f, in));
    CHECK(f.instrs[in.id - 1].op == in.op);  // right after its tile job
  }
  CHECK(n == mem.size());
  CHECK(extra == std::vector<std::string>{"STORE_A L0.attn.ln", "STORE_A L0.ffn0.up.act",
                                          "STORE_A L0.ffn.down.act", "STORE_A L0.ffn.ln",
                                          "STORE_A L1.attn.ln", "STORE_A L1.ffn0.up.act",
                                          "STORE_A L1.ffn.down.act", "STORE_A L1.ffn.ln"});
}

TEST_CASE("reference graph: the heads of a layer are interleaved, each in its own order",
          "[compiler][fidelity]") {
  const Program p = reference();
  // C2: compute instructions of head ops alternate between the two heads of a layer, and every
  // dependency points backwards (the text form reads back).
  int last = -1;
  size_t head_ops = 0;
  for (const auto& in : p.instrs) {
    if (!is_compute(in.opcode) || p.ops[in.op].head < 0) continue;
    if (last >= 0) CHECK(p.ops[in.op].head != last);
    last = p.ops[in.op].head;
    ++head_ops;
    for (auto d = p.deps_begin(in); d != p.deps_end(in); ++d) CHECK(*d < in.id);
  }
  CHECK(head_ops == 2 * 2 * 7);
  std::stringstream text;
  write_program(text, p);
  const Program back = read_program(text, "reference.txt");
  CHECK(back.instrs.size() == p.instrs.size());
  // --reference-fixes serial-heads: head 0 entirely before head 1.
  PublishedBehaviours f;
  f.serial_heads = true;
  const Program s = reference(f);
  std::vector<int> heads;
  for (const auto& in : s.instrs)
    if (is_compute(in.opcode) && s.ops[in.op].layer == 0 && s.ops[in.op].head >= 0)
      heads.push_back(s.ops[in.op].head);
  CHECK(heads == std::vector<int>{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("reference graph: --reference-fixes restores this project's op graph",
          "[compiler][fidelity]") {
  PublishedBehaviours all;
  all.emb_ln = all.head_sum = all.store_output = all.serial_heads = all.loads_per_op = true;
  const Program p = reference(all);
  size_t store_a = 0, store_m = 0;
  for (const auto& in : p.instrs) {
    store_a += in.opcode == Opcode::STORE_A;
    store_m += in.opcode == Opcode::STORE_M;
  }
  // A STORE_A after each of the 43 ops (40 published, emb.ln, 2 head sums), one STORE_M.
  CHECK(p.ops.size() == 43);
  CHECK(store_a == 43);
  CHECK(store_m == 1);
  // loads-per-op: the k weight loads after the q store.
  size_t q_store = 0, k_load = 0;
  for (const auto& in : p.instrs) {
    if (in.opcode == Opcode::STORE_A && p.ops[in.op].name == "L0.H0.q") q_store = in.id;
    if (in.opcode == Opcode::LOAD_W && p.ops[in.op].name == "L0.H0.k") k_load = in.id;
  }
  CHECK(k_load > q_store);
  // Published deps with the published graph: layer norms depend on nothing, Q/K/V on their
  // weight only (the embedding table is still loaded first).
  const Program d = reference(PublishedBehaviours(), true);
  CHECK(d.instrs[0].opcode == Opcode::LOAD_W);
  for (const auto& in : d.instrs) {
    if (in.opcode == Opcode::LAYERNORM) CHECK(in.dep_count == 0);
    const std::string& n = in.op == kNone ? "" : d.ops[in.op].name;
    if (in.opcode == Opcode::MATMUL && (n == "L0.H0.q" || n == "L1.H1.v")) {
      REQUIRE(in.dep_count == 1);
      CHECK(d.instrs[*d.deps_begin(in)].opcode == Opcode::LOAD_W);
    }
  }
}

TEST_CASE("reference graph: --reference-fixes names are checked", "[compiler][cli][fidelity]") {
  auto r = testutil::run_cli("compile --reference-fixes head-sum");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("option --reference-fixes applies to --profile reference") != std::string::npos);
  r = testutil::run_cli("compile --profile reference --reference-fixes head-sum,nope");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("option --reference-fixes: 'nope' unknown; allowed: emb-ln, head-sum, "
                   "store-output, serial-heads, loads-per-op, all") != std::string::npos);
  r = testutil::run_cli("compile --profile reference --reference-bugs unstored-outputs,nope");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("'nope' unknown; allowed: softmax-overassign") != std::string::npos);
  // 'all' and a list give the same stream.
  auto all = testutil::run_cli("compile --profile reference --reference-fixes all --stats");
  auto list = testutil::run_cli(
      "compile --profile reference --stats --reference-fixes "
      "emb-ln,head-sum,store-output,serial-heads,loads-per-op");
  REQUIRE(all.exit_code == 0);
  REQUIRE(list.exit_code == 0);
  // 43 ops; 43 tile jobs, 43 STORE_A, 21 LOAD_W and the STORE_M.
  CHECK(all.out.find("43 ops, 108 instructions") != std::string::npos);
  CHECK(list.out.find("43 ops, 108 instructions") != std::string::npos);
}

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "isa.hpp"
#include "isa_text.hpp"
#include "parts.hpp"

namespace acceltran {

namespace {
constexpr const char* kOpcodeNames[kOpcodeCount] = {"LOAD_W",  "LOAD_A", "STORE_A", "SPILL",
                                                    "STORE_M", "MATMUL", "SOFTMAX", "LAYERNORM",
                                                    "EWISE",   "ACT"};
}

const char* to_string(Opcode op) {
  return kOpcodeNames[static_cast<int>(op)];
}

bool parse_opcode(const std::string& text, Opcode* out) {
  for (int n = 0; n < kOpcodeCount; ++n)
    if (text == kOpcodeNames[n]) {
      *out = static_cast<Opcode>(n);
      return true;
    }
  return false;
}

const char* to_string(TensorClass c) {
  switch (c) {
    case TensorClass::weight:
      return "weight";
    case TensorClass::embedding:
      return "embedding";
    case TensorClass::activation:
      return "activation";
  }
  return "?";
}

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::matmul:
      return "matmul";
    case OpKind::softmax:
      return "softmax";
    case OpKind::layer_norm:
      return "layer_norm";
    case OpKind::add:
      return "add";
    case OpKind::activation:
      return "activation";
  }
  return "?";
}

Opcode opcode_of(OpKind k) {
  switch (k) {
    case OpKind::matmul:
      return Opcode::MATMUL;
    case OpKind::softmax:
      return Opcode::SOFTMAX;
    case OpKind::layer_norm:
      return Opcode::LAYERNORM;
    case OpKind::add:
      return Opcode::EWISE;
    case OpKind::activation:
      return Opcode::ACT;
  }
  return Opcode::MATMUL;
}

// ---------------------------------------------------------------- writer
namespace {
std::string id_list(const uint32_t* b, const uint32_t* e) {
  std::string s;
  for (const uint32_t* p = b; p != e; ++p) {
    if (p != b) s.push_back(',');
    s += std::to_string(*p);
  }
  return s.empty() ? "-" : s;
}
}  // namespace

void write_program(std::ostream& out, const Program& p) {
  const auto& i = p.info;
  out << kIsaMagic << "\n";
  out << fmt::format(
      "info model={} profile={} accelerator={} seq_len={} batch={} tile={}x{}x{} loop_order={} "
      "word_bits={} activation_sparsity={} weight_sparsity={} tiles_per_instruction={}\n",
      i.model, i.profile, i.accelerator, i.seq_len, i.batch, i.tile.b, i.tile.x, i.tile.y,
      i.loop_order.str(), i.word_bits, i.activation_sparsity, i.weight_sparsity,
      i.tiles_per_instruction);
  out << fmt::format("counts tensors={} ops={} instructions={}\n", p.tensors.size(), p.ops.size(),
                     p.instrs.size());
  for (const auto& t : p.tensors)
    out << fmt::format(
        "tensor {} {} class={} layer={} shape={}x{}x{} sparsity={} data_bytes={} mask_bytes={} "
        "parts={}x{}x{}\n",
        t.id, t.name, to_string(t.cls), t.layer, t.batch, t.rows, t.cols, t.sparsity, t.data_bytes,
        t.mask_bytes, t.part_b, t.part_rows, t.part_cols);
  for (const auto& o : p.ops)
    out << fmt::format(
        "op {} {} kind={} layer={} head={} in={} out={} dims={}x{}x{}x{} grid={}x{}x{}x{} "
        "b_batched={} prune={} in_rows={} in_col={} out_rows={} out_col={} block={}x{}x{}x{}\n",
        o.id, o.name, to_string(o.kind), o.layer, o.head,
        id_list(o.inputs.data(), o.inputs.data() + o.inputs.size()), o.output, o.b, o.m, o.k, o.n,
        o.grid_b, o.grid_i, o.grid_j, o.grid_k, o.b_operand_batched ? 1 : 0, o.prune ? 1 : 0,
        o.in_rows.empty() ? std::string("-") : o.in_rows,
        o.in_col.empty() ? std::string("-") : fmt::format("{}", fmt::join(o.in_col, ",")),
        o.out_rows, o.out_col, o.blk_b, o.blk_i, o.blk_j, o.blk_k);
  std::string line;
  for (const auto& in : p.instrs) {
    line.clear();
    if (is_compute(in.opcode))
      line = fmt::format("i {} {} op={} tensor={} block={} tiles={}+{} deps={}", in.id,
                         to_string(in.opcode), in.op, in.tensor, in.block, in.first_tile,
                         in.tile_count, id_list(p.deps_begin(in), p.deps_end(in)));
    else
      line =
          fmt::format("i {} {} op={} tensor={} part={} bytes={} mask_bytes={} deps={}", in.id,
                      to_string(in.opcode),
                      in.op == kNone ? std::string("-") : std::to_string(in.op), in.tensor, in.part,
                      in.data_bytes, in.mask_bytes, id_list(p.deps_begin(in), p.deps_end(in)));
    // A comment with the tensor name helps people grep a stream.
    if (in.tensor < p.tensors.size()) line += fmt::format("  # {}", p.tensors[in.tensor].name);
    line.push_back('\n');
    out << line;
  }
}

void write_program_file(const std::string& path, const Program& prog) {
  std::ofstream out(path);
  if (!out)
    throw InputError(
        fmt::format("{}: cannot open output file for writing: {}", path, std::strerror(errno)));
  write_program(out, prog);
  out.flush();
  if (!out) throw InputError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
}

// ---------------------------------------------------------------- reader
namespace {

class LineParser {
 public:
  LineParser(const std::string& source, size_t line_no, const std::string& line)
      : source_(source), line_no_(line_no) {
    std::string body = line.substr(0, line.find('#'));
    std::istringstream ss(body);
    std::string tok;
    while (ss >> tok) {
      auto eq = tok.find('=');
      if (eq == std::string::npos)
        positional_.push_back(tok);
      else
        kv_.emplace(tok.substr(0, eq), tok.substr(eq + 1));
    }
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(fmt::format("{}:{}: {}", source_, line_no_, why));
  }

  const std::string& pos(size_t n, const char* what) const {
    if (n >= positional_.size()) fail(fmt::format("missing {}", what));
    return positional_[n];
  }

  bool has(const char* key) const { return kv_.count(key) != 0; }

  const std::string& str(const char* key) const {
    auto it = kv_.find(key);
    if (it == kv_.end()) fail(fmt::format("missing field '{}='", key));
    return it->second;
  }

  static bool to_i64(const std::string& s, int64_t* v) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
  }

  int64_t i64(const std::string& s, const char* what) const {
    int64_t v;
    if (!to_i64(s, &v)) fail(fmt::format("{}: '{}' is not an integer", what, s));
    return v;
  }
  uint64_t u64(const std::string& s, const char* what) const {
    int64_t v = i64(s, what);
    if (v < 0) fail(fmt::format("{}: '{}' must not be negative", what, s));
    return static_cast<uint64_t>(v);
  }
  int64_t i64(const char* key) const { return i64(str(key), key); }
  uint64_t u64(const char* key) const { return u64(str(key), key); }
  double dbl(const char* key) const {
    const std::string& s = str(key);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) fail(fmt::format("{}: '{}' is not a number", key, s));
    return v;
  }
  std::vector<int64_t> dims(const char* key, size_t n) const {
    std::vector<int64_t> out;
    std::string s = str(key), cur;
    for (char c : s + "x") {
      if (c == 'x') {
        out.push_back(i64(cur, key));
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (out.size() != n) fail(fmt::format("{}: '{}' needs {} dimensions", key, s, n));
    return out;
  }
  std::vector<uint32_t> ids(const char* key) const {
    std::vector<uint32_t> out;
    const std::string& s = str(key);
    if (s == "-") return out;
    std::string cur;
    for (char c : s + ",") {
      if (c == ',') {
        out.push_back(static_cast<uint32_t>(u64(cur, key)));
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    return out;
  }

 private:
  std::string source_;
  size_t line_no_;
  std::vector<std::string> positional_;
  std::unordered_map<std::string, std::string> kv_;
};

}  // namespace

Program read_program(std::istream& in, const std::string& source) {
  Program p;
  std::string line;
  size_t no = 0;
  bool magic = false, have_info = false;
  uint64_t max_dep = 0;
  while (std::getline(in, line)) {
    ++no;
    if (!magic) {
      if (line.rfind(kIsaMagic, 0) != 0)
        throw InputError(fmt::format("{}:1: not an AccelTran instruction stream (expected '{}')",
                                     source, kIsaMagic));
      magic = true;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    LineParser lp(source, no, line);
    const std::string& kind = lp.pos(0, "record type");
    if (kind == "info") {
      auto& i = p.info;
      i.model = lp.str("model");
      i.profile = lp.str("profile");
      i.accelerator = lp.str("accelerator");
      i.seq_len = lp.i64("seq_len");
      i.batch = lp.i64("batch");
      auto t = lp.dims("tile", 3);
      i.tile = TileShape{static_cast<int>(t[0]), static_cast<int>(t[1]), static_cast<int>(t[2])};
      try {
        i.loop_order = LoopOrder::parse(lp.str("loop_order"));
      } catch (const InputError& e) {
        lp.fail(e.what());
      }
      i.word_bits = static_cast<int>(lp.i64("word_bits"));
      i.activation_sparsity = lp.dbl("activation_sparsity");
      i.weight_sparsity = lp.dbl("weight_sparsity");
      i.tiles_per_instruction = lp.u64("tiles_per_instruction");
      if (i.tile.b <= 0 || i.tile.x <= 0 || i.tile.y <= 0 || i.batch <= 0 || i.seq_len <= 0)
        lp.fail("info: tile, batch and seq_len must be positive");
      have_info = true;
    } else if (kind == "counts") {
      p.tensors.reserve(lp.u64("tensors"));
      p.ops.reserve(lp.u64("ops"));
      p.instrs.reserve(lp.u64("instructions"));
    } else if (kind == "tensor") {
      Tensor t;
      t.id = static_cast<TensorId>(lp.u64(lp.pos(1, "tensor id"), "tensor id"));
      if (t.id != p.tensors.size())
        lp.fail(fmt::format("tensor id {} out of order (expected {})", t.id, p.tensors.size()));
      t.name = lp.pos(2, "tensor name");
      const std::string& cls = lp.str("class");
      if (cls == "weight")
        t.cls = TensorClass::weight;
      else if (cls == "embedding")
        t.cls = TensorClass::embedding;
      else if (cls == "activation")
        t.cls = TensorClass::activation;
      else
        lp.fail(fmt::format("class '{}' unknown; allowed: weight, embedding, activation", cls));
      t.layer = static_cast<int>(lp.i64("layer"));
      auto s = lp.dims("shape", 3);
      t.batch = s[0];
      t.rows = s[1];
      t.cols = s[2];
      t.sparsity = lp.dbl("sparsity");
      t.data_bytes = lp.u64("data_bytes");
      t.mask_bytes = lp.u64("mask_bytes");
      if (lp.has("parts")) {  // optional: whole-tensor residency without it
        auto pt = lp.dims("parts", 3);
        for (int64_t v : pt)
          if (v < 0) lp.fail("parts: sizes must not be negative (0 = the whole extent)");
        t.part_b = pt[0];
        t.part_rows = pt[1];
        t.part_cols = pt[2];
      }
      p.tensors.push_back(t);
    } else if (kind == "op") {
      Op o;
      o.id = static_cast<OpId>(lp.u64(lp.pos(1, "op id"), "op id"));
      if (o.id != p.ops.size())
        lp.fail(fmt::format("op id {} out of order (expected {})", o.id, p.ops.size()));
      o.name = lp.pos(2, "op name");
      const std::string& k = lp.str("kind");
      bool ok = false;
      for (OpKind ok_kind :
           {OpKind::matmul, OpKind::softmax, OpKind::layer_norm, OpKind::add, OpKind::activation})
        if (k == to_string(ok_kind)) {
          o.kind = ok_kind;
          ok = true;
        }
      if (!ok)
        lp.fail(fmt::format(
            "kind '{}' unknown; allowed: matmul, softmax, layer_norm, add, activation", k));
      o.layer = static_cast<int>(lp.i64("layer"));
      o.head = static_cast<int>(lp.i64("head"));
      for (uint32_t t : lp.ids("in")) o.inputs.push_back(t);
      o.output = static_cast<TensorId>(lp.u64("out"));
      auto d = lp.dims("dims", 4);
      o.b = d[0];
      o.m = d[1];
      o.k = d[2];
      o.n = d[3];
      auto g = lp.dims("grid", 4);
      o.grid_b = g[0];
      o.grid_i = g[1];
      o.grid_j = g[2];
      o.grid_k = g[3];
      for (int64_t v : {o.b, o.m, o.k, o.n, o.grid_b, o.grid_i, o.grid_j, o.grid_k})
        if (v <= 0) lp.fail("op dims and grid must be positive");
      o.b_operand_batched = lp.i64("b_batched") != 0;
      o.prune = lp.i64("prune") != 0;
      if (lp.has("in_rows") && lp.str("in_rows") != "-") {
        o.in_rows = lp.str("in_rows");
        if (o.in_rows.size() != o.inputs.size() ||
            o.in_rows.find_first_not_of("mkna") != std::string::npos)
          lp.fail(fmt::format("in_rows: '{}' needs one of m, k, n, a per input ({} inputs)",
                              o.in_rows, o.inputs.size()));
      }
      if (lp.has("in_col") && lp.str("in_col") != "-") {
        for (uint32_t c : lp.ids("in_col")) o.in_col.push_back(c);
        if (o.in_col.size() != o.inputs.size())
          lp.fail(fmt::format("in_col: one column per input ({} inputs)", o.inputs.size()));
      }
      if (lp.has("out_rows")) {
        const std::string& r = lp.str("out_rows");
        if (r != "m" && r != "a") lp.fail(fmt::format("out_rows: '{}' unknown; allowed: m, a", r));
        o.out_rows = r[0];
      }
      if (lp.has("out_col")) o.out_col = lp.i64("out_col");
      if (lp.has("block")) {
        auto bk = lp.dims("block", 4);
        for (int64_t v : bk)
          if (v < 0) lp.fail("block: sizes must not be negative (0 = the whole grid)");
        o.blk_b = bk[0];
        o.blk_i = bk[1];
        o.blk_j = bk[2];
        o.blk_k = bk[3];
      }
      for (TensorId t : o.inputs)
        if (t >= p.tensors.size()) lp.fail(fmt::format("input tensor {} not defined", t));
      if (o.output >= p.tensors.size())
        lp.fail(fmt::format("output tensor {} not defined", o.output));
      p.ops.push_back(std::move(o));
    } else if (kind == "i") {
      Instruction in;
      in.id = static_cast<InstrId>(lp.u64(lp.pos(1, "instruction id"), "instruction id"));
      if (in.id != p.instrs.size())
        lp.fail(
            fmt::format("instruction id {} out of order (expected {})", in.id, p.instrs.size()));
      const std::string& opc = lp.pos(2, "opcode");
      if (!parse_opcode(opc, &in.opcode))
        lp.fail(fmt::format(
            "opcode '{}' unknown; allowed: LOAD_W, LOAD_A, STORE_A, SPILL, STORE_M, MATMUL, "
            "SOFTMAX, LAYERNORM, EWISE, ACT",
            opc));
      const std::string& ops = lp.str("op");
      in.op = ops == "-" ? kNone : static_cast<OpId>(lp.u64(ops, "op"));
      in.tensor = static_cast<TensorId>(lp.u64("tensor"));
      if (in.tensor >= p.tensors.size()) lp.fail(fmt::format("tensor {} not defined", in.tensor));
      if (in.op != kNone && in.op >= p.ops.size()) lp.fail(fmt::format("op {} not defined", in.op));
      if (is_compute(in.opcode)) {
        if (in.op == kNone) lp.fail("a tile job needs op=");
        const std::string& r = lp.str("tiles");
        auto plus = r.find('+');
        if (plus == std::string::npos) lp.fail(fmt::format("tiles: '{}' must be first+count", r));
        in.first_tile = lp.u64(r.substr(0, plus), "tiles");
        in.tile_count = lp.u64(r.substr(plus + 1), "tiles");
        const Op& op = p.ops[in.op];
        const BlockGrid g = block_grid(op);
        if (lp.has("block")) in.block = static_cast<uint32_t>(lp.u64("block"));
        if (in.block >= g.blocks())
          lp.fail(fmt::format("block {} outside op {} ({} blocks)", in.block, in.op, g.blocks()));
        const uint64_t tiles = block_box(op, g, in.block).tiles();
        if (in.tile_count == 0 || in.first_tile + in.tile_count > tiles)
          lp.fail(fmt::format("tiles {} outside block {} of op {} ({} tiles)", r, in.block, in.op,
                              tiles));
        if (opcode_of(p.ops[in.op].kind) != in.opcode)
          lp.fail(fmt::format("opcode {} does not match op {} of kind {}", opc, in.op,
                              to_string(p.ops[in.op].kind)));
      } else {
        in.data_bytes = lp.u64("bytes");
        in.mask_bytes = lp.u64("mask_bytes");
        if (lp.has("part")) {
          in.part = static_cast<uint32_t>(lp.u64("part"));
          const uint32_t parts = part_grid(p.tensors[in.tensor]).parts();
          if (in.part >= parts)
            lp.fail(fmt::format("part {} outside tensor {} ({} parts)", in.part, in.tensor, parts));
        }
      }
      auto deps = lp.ids("deps");
      // Forward dependencies are legal here (a hand-written stream may have a cycle, which the
      // control block reports as a deadlock); ids must exist and not name the instruction itself.
      for (InstrId d : deps)
        if (d == in.id) lp.fail(fmt::format("instruction {} depends on itself", in.id));
      max_dep = std::max<uint64_t>(max_dep,
                                   deps.empty() ? 0 : *std::max_element(deps.begin(), deps.end()));
      in.dep_begin = static_cast<uint32_t>(p.deps.size());
      in.dep_count = static_cast<uint32_t>(deps.size());
      p.deps.insert(p.deps.end(), deps.begin(), deps.end());
      p.instrs.push_back(in);
    } else {
      lp.fail(fmt::format("record type '{}' unknown; allowed: info, counts, tensor, op, i", kind));
    }
  }
  if (!magic)
    throw InputError(fmt::format("{}: empty file, not an AccelTran instruction stream", source));
  if (!have_info) throw InputError(fmt::format("{}: missing the 'info' line", source));
  if (!p.instrs.empty() && max_dep >= p.instrs.size())
    throw InputError(
        fmt::format("{}: a dependency names instruction {}, but the stream has {} instructions",
                    source, max_dep, p.instrs.size()));
  return p;
}

Program read_program_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: instruction file not found or not readable", path));
  return read_program(in, path);
}

}  // namespace acceltran

#include <fmt/format.h>

#include <fmt/ranges.h>
#include <initializer_list>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "acceltran/compiler/compiler.hpp"
#include "acceltran/compiler/isa.hpp"
#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/config/input_limits.hpp"
#include "acceltran/config/output_file.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/compiler/tiling.hpp"

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

// ---------------------------------------------------------------- checksum and names
namespace {

// FNV-1a, 64 bits, over every byte of the file before the trailer line.
class Checksum {
 public:
  void add(const std::string& line) {
    for (unsigned char c : line) h_ = (h_ ^ c) * 0x100000001b3ull;
    h_ = (h_ ^ static_cast<unsigned char>('\n')) * 0x100000001b3ull;
  }
  std::string hex() const { return fmt::format("{:016x}", h_); }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// Names are single tokens in the text form: whitespace, '#', '%', '=' and ',' are written as %XX.
bool needs_escape(unsigned char c) {
  return c <= 0x20 || c == 0x7f || c == '#' || c == '%' || c == '=' || c == ',';
}
std::string escape_name(const std::string& s) {
  if (s.empty()) return "%00";  // never empty: a name is always a token
  std::string out;
  for (unsigned char c : s) {
    if (needs_escape(c))
      out += fmt::format("%{:02X}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}
bool unescape_name(const std::string& s, std::string* out) {
  out->clear();
  if (s == "%00") return true;
  for (size_t n = 0; n < s.size(); ++n) {
    if (s[n] != '%') {
      out->push_back(s[n]);
      continue;
    }
    if (n + 2 >= s.size()) return false;
    unsigned v = 0;
    for (int d = 1; d <= 2; ++d) {
      char c = s[n + d];
      v = v * 16 + (c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : 99);
      if (v > 255) return false;
    }
    if (v == 0) return false;
    out->push_back(static_cast<char>(v));
    n += 2;
  }
  return !out->empty();
}

std::string id_list(const uint32_t* b, const uint32_t* e) {
  std::string s;
  for (const uint32_t* p = b; p != e; ++p) {
    if (p != b) s.push_back(',');
    s += std::to_string(*p);
  }
  return s.empty() ? "-" : s;
}

}  // namespace

// ---------------------------------------------------------------- writer
InstrId append_instruction(Program& prog, Instruction in, const InstrId* first,
                           const InstrId* last) {
  in.id = static_cast<InstrId>(prog.instrs.size());
  in.dep_count = static_cast<uint32_t>(last - first);
  const Instruction* previous = prog.instrs.empty() ? nullptr : &prog.instrs.back();
  if (previous && in.dep_count > 0 && previous->dep_count == in.dep_count &&
      std::equal(first, last, prog.deps_begin(*previous))) {
    in.dep_begin = previous->dep_begin;  // the same list: stored once
  } else {
    in.dep_begin = static_cast<uint32_t>(prog.deps.size());
    prog.deps.insert(prog.deps.end(), first, last);
  }
  prog.instrs.push_back(in);
  return in.id;
}

namespace {
// "-" or the names joined by commas.
std::string name_list(const std::vector<std::string>& names) {
  return names.empty() ? std::string("-") : fmt::format("{}", fmt::join(names, ","));
}

// The `compiled_for` record: the model's fingerprint, the compile options the other records do
// not show, and the accelerator's settings as accelerator.KEY=VALUE fields.
std::string compiled_for_line(const ProgramInfo& i) {
  std::string line = fmt::format(
      "compiled_for model_fingerprint={} first_layer_only={} reference_bugs={} "
      "reference_fixes={}",
      i.model_fingerprint.empty() ? std::string("-") : i.model_fingerprint,
      i.first_layer_only ? 1 : 0, name_list(i.reference_bugs), name_list(i.reference_fixes));
  for (const Setting& s : i.accelerator_settings)
    line += fmt::format(" accelerator.{}={}", s.key, escape_name(s.value));
  return line;
}
}  // namespace

void write_program(std::ostream& out, const Program& p) {
  Checksum sum;
  std::string line;
  auto emit = [&](std::string&& text) {
    sum.add(text);
    text.push_back('\n');
    out << text;
  };
  const auto& i = p.info;
  emit(kIsaMagic);
  emit(fmt::format(
      "info model={} profile={} accelerator={} seq_len={} batch={} tile={}x{}x{} loop_order={} "
      "word_bits={} activation_sparsity={} weight_sparsity={} tiles_per_instruction={}",
      escape_name(i.model), to_string(i.profile), escape_name(i.accelerator), i.seq_len, i.batch,
      i.tile.b, i.tile.x, i.tile.y, i.loop_order.str(), i.word_bits, i.activation_sparsity,
      i.weight_sparsity, i.tiles_per_instruction));
  emit(compiled_for_line(i));
  emit(fmt::format("counts tensors={} ops={} instructions={}", p.tensors.size(), p.ops.size(),
                   p.instrs.size()));
  for (const auto& t : p.tensors)
    emit(fmt::format(
        "tensor {} {} class={} layer={} shape={}x{}x{} sparsity={} data_bytes={} mask_bytes={} "
        "parts={}x{}x{}",
        t.id, escape_name(t.name), to_string(t.cls), t.layer, t.batch, t.rows, t.cols, t.sparsity,
        t.data_bytes, t.mask_bytes, t.part_b, t.part_rows, t.part_cols));
  for (const auto& o : p.ops)
    emit(fmt::format(
        "op {} {} kind={} layer={} head={} in={} out={} dims={}x{}x{}x{} grid={}x{}x{}x{} "
        "b_batched={} prune={} in_rows={} in_col={} out_rows={} out_col={} block={}x{}x{}x{}",
        o.id, escape_name(o.name), to_string(o.kind), o.layer, o.head,
        id_list(o.inputs.data(), o.inputs.data() + o.inputs.size()), o.output, o.b, o.m, o.k, o.n,
        o.grid_b, o.grid_i, o.grid_j, o.grid_k, o.b_operand_batched ? 1 : 0, o.prune ? 1 : 0,
        o.in_rows.empty() ? std::string("-") : o.in_rows,
        o.in_col.empty() ? std::string("-") : fmt::format("{}", fmt::join(o.in_col, ",")),
        o.out_rows, o.out_col, o.blk_b, o.blk_i, o.blk_j, o.blk_k));
  for (const auto& in : p.instrs) {
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
    emit(std::move(line));
  }
  // The trailer: a file cut anywhere, or changed after it was written, fails to read.
  out << fmt::format("end instructions={} checksum={}\n", p.instrs.size(), sum.hex());
}

void write_program_file(const std::string& path, const Program& prog) {
  std::ostringstream text;
  write_program(text, prog);
  write_output_file(path, text.str());
}

// ---------------------------------------------------------------- reader
namespace {

// One record (line) of the text form: positional tokens and key=value fields. Each record
// reader asks for its fields by name; finish() then rejects fields it did not ask for.
class LineParser {
 public:
  LineParser(const std::string& source, size_t line_no, const std::string& line)
      : source_(source), line_no_(line_no) {
    std::string body = line.substr(0, line.find('#'));
    std::istringstream ss(body);
    std::string tok;
    while (ss >> tok) {
      auto eq = tok.find('=');
      if (eq == std::string::npos) {
        if (!kv_.empty()) fail(fmt::format("'{}': expected key=value", tok));
        positional_.push_back(tok);
        continue;
      }
      std::string key = tok.substr(0, eq);
      if (!kv_.emplace(key, tok.substr(eq + 1)).second)
        fail(fmt::format("field '{}=' given twice", key));
      order_.push_back(key);
    }
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(fmt::format("{}:{}: {}", source_, line_no_, why));
  }

  const std::string& pos(size_t n, const char* what) {
    if (n >= positional_.size()) fail(fmt::format("missing {}", what));
    max_pos_ = std::max(max_pos_, n + 1);
    return positional_[n];
  }
  std::string name(size_t n, const char* what) {
    std::string out;
    if (!unescape_name(pos(n, what), &out))
      fail(fmt::format("{} '{}' is not a valid name", what, positional_[n]));
    return out;
  }

  bool has(const std::string& key) const { return kv_.count(key) > 0; }
  const std::string& str(const char* key) {
    auto it = kv_.find(key);
    if (it == kv_.end()) fail(fmt::format("missing field '{}='", key));
    used_.push_back(key);
    return it->second;
  }
  std::string name_field(const char* key) {
    std::string out;
    const std::string& s = str(key);
    if (!unescape_name(s, &out)) fail(fmt::format("{}: '{}' is not a valid name", key, s));
    return out;
  }

  // Rejects positional tokens and fields the record reader did not ask for.
  void finish() const {
    if (positional_.size() > max_pos_) fail(fmt::format("unexpected '{}'", positional_[max_pos_]));
    for (const auto& k : order_)
      if (std::find(used_.begin(), used_.end(), k) == used_.end())
        fail(fmt::format("unknown field '{}='; allowed: {}=", k, fmt::join(used_, "=, ")));
  }

  static bool to_i64(const std::string& s, int64_t* v) {
    if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
  }

  // An integer in [lo, hi].
  int64_t i64(const std::string& s, const char* what, int64_t lo, int64_t hi) const {
    int64_t v;
    if (!to_i64(s, &v)) fail(fmt::format("{}: '{}' is not an integer", what, s));
    if (v < lo || v > hi)
      fail(fmt::format("{}: {} outside the allowed range [{}, {}]", what, v, lo, hi));
    return v;
  }
  int64_t i64(const char* key, int64_t lo, int64_t hi) { return i64(str(key), key, lo, hi); }
  uint64_t u64(const std::string& s, const char* what, uint64_t hi = INT64_MAX) const {
    return static_cast<uint64_t>(i64(s, what, 0, static_cast<int64_t>(hi)));
  }
  uint64_t u64(const char* key, uint64_t hi = INT64_MAX) { return u64(str(key), key, hi); }
  bool flag(const char* key) { return i64(key, 0, 1) != 0; }
  // A finite number in [lo, hi).
  double fraction(const char* key) {
    const std::string& s = str(key);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || !std::isfinite(v))
      fail(fmt::format("{}: '{}' is not a finite number", key, s));
    if (!(v >= 0 && v < 1)) fail(fmt::format("{}: {} outside the allowed range [0, 1)", key, v));
    return v;
  }
  // n dimensions "AxBx..." each in [1, hi[n]].
  std::vector<int64_t> dims(const char* key, const std::vector<int64_t>& hi, int64_t lo = 1) {
    std::vector<int64_t> out;
    std::string s = str(key), cur;
    for (char c : s + "x") {
      if (c != 'x') {
        cur.push_back(c);
        continue;
      }
      if (out.size() == hi.size())
        fail(fmt::format("{}: '{}' needs {} dimensions", key, s, hi.size()));
      out.push_back(i64(cur, key, lo, hi[out.size()]));
      cur.clear();
    }
    if (out.size() != hi.size())
      fail(fmt::format("{}: '{}' needs {} dimensions", key, s, hi.size()));
    return out;
  }
  // "-" or a comma-separated list of ids, each below `bound`.
  std::vector<uint32_t> ids(const char* key, uint64_t bound, const char* what) {
    std::vector<uint32_t> out;
    const std::string& s = str(key);
    if (s == "-") return out;
    std::string cur;
    for (char c : s + ",") {
      if (c != ',') {
        cur.push_back(c);
        continue;
      }
      uint64_t v = u64(cur, key, UINT32_MAX - 1);
      if (v >= bound) fail(fmt::format("{}: {} {} not defined", key, what, v));
      out.push_back(static_cast<uint32_t>(v));
      cur.clear();
    }
    return out;
  }

 private:
  std::string source_;
  size_t line_no_;
  std::vector<std::string> positional_;
  std::unordered_map<std::string, std::string> kv_;
  std::vector<std::string> order_, used_;
  size_t max_pos_ = 1;
};

// The records of a file in their required order.
enum class Section { info, compiled_for, counts, tensors, ops, instructions, end };

struct Counts {
  uint64_t tensors = 0, ops = 0, instructions = 0;
};

// Records of the kind they are read: each checks its fields and its references to earlier
// records. New fields go into the record's reader and, if they relate to others, its checks.
void read_info(LineParser& lp, ProgramInfo& i) {
  using namespace limits;
  i.model = lp.name_field("model");
  const std::string profile = lp.name_field("profile");
  if (!parse_profile(profile, &i.profile))
    lp.fail(fmt::format("profile: '{}' unknown; allowed: {} (bert: alias of hardware)", profile,
                        kProfileNames));
  i.accelerator = lp.name_field("accelerator");
  i.seq_len = lp.i64("seq_len", 1, kMaxSeqLen);
  i.batch = lp.i64("batch", 1, kMaxBatch);
  auto t = lp.dims("tile", {kMaxTileSide, kMaxTileSide, kMaxTileSide});
  i.tile = TileShape{static_cast<int>(t[0]), static_cast<int>(t[1]), static_cast<int>(t[2])};
  if (i.tile.b > i.batch)
    lp.fail(fmt::format("tile: tile_b {} exceeds batch {}", i.tile.b, i.batch));
  try {
    i.loop_order = LoopOrder::parse(lp.str("loop_order"));
  } catch (const InputError& e) {
    lp.fail(fmt::format("loop_order: {}", e.what()));
  }
  i.word_bits = static_cast<int>(lp.i64("word_bits", 1, 32));
  i.activation_sparsity = lp.fraction("activation_sparsity");
  i.weight_sparsity = lp.fraction("weight_sparsity");
  i.tiles_per_instruction = lp.u64("tiles_per_instruction");
}

// "-" or a comma list of names.
std::vector<std::string> read_name_list(LineParser& lp, const char* key) {
  std::vector<std::string> names;
  const std::string& text = lp.str(key);
  if (text == "-") return names;
  std::string current;
  for (char c : text + ",") {
    if (c != ',') {
      current.push_back(c);
      continue;
    }
    if (current.empty()) lp.fail(fmt::format("{}: '{}' has an empty name", key, text));
    names.push_back(current);
    current.clear();
  }
  return names;
}

void read_compiled_for(LineParser& lp, ProgramInfo& i) {
  const std::string& fingerprint = lp.str("model_fingerprint");
  if (fingerprint != "-") {
    if (fingerprint.size() != 16 ||
        fingerprint.find_first_not_of("0123456789abcdef") != std::string::npos)
      lp.fail(fmt::format("model_fingerprint: '{}' is not 16 hex digits", fingerprint));
    i.model_fingerprint = fingerprint;
  }
  i.first_layer_only = lp.flag("first_layer_only");
  i.reference_bugs = read_name_list(lp, "reference_bugs");
  i.reference_fixes = read_name_list(lp, "reference_fixes");
  // The keys of this build; a field it does not know fails in finish().
  for (const Setting& known : accelerator_settings(AcceleratorConfig{})) {
    const std::string key = "accelerator." + known.key;
    if (!lp.has(key)) continue;
    Setting s{known.key, {}, known.number};
    s.value = lp.name_field(key.c_str());
    i.accelerator_settings.push_back(s);
  }
}

Counts read_counts(LineParser& lp) {
  // Checked against the records; never used to allocate.
  Counts c;
  c.tensors = lp.u64("tensors", kNone - 1);
  c.ops = lp.u64("ops", kNone - 1);
  c.instructions = lp.u64("instructions", kNone - 1);
  return c;
}

// One of `values`, named by to_string(); anything else fails naming `what` and the names.
template <typename E>
E read_named(LineParser& lp, const std::string& text, const char* what,
             std::initializer_list<E> values) {
  std::string allowed;
  for (E v : values) {
    if (text == to_string(v)) return v;
    allowed += (allowed.empty() ? "" : ", ") + std::string(to_string(v));
  }
  lp.fail(fmt::format("{} '{}' unknown; allowed: {}", what, text, allowed));
}

// The record's id (its position in its table, dense and in order).
uint32_t read_id(LineParser& lp, size_t expected, const char* what) {
  const std::string key = fmt::format("{} id", what);
  const uint64_t id = lp.u64(lp.pos(1, key.c_str()), key.c_str(), kNone - 1);
  if (id != expected) lp.fail(fmt::format("{} {} out of order (expected {})", key, id, expected));
  return static_cast<uint32_t>(id);
}

Tensor read_tensor(LineParser& lp, const Program& p) {
  using namespace limits;
  Tensor t;
  t.id = read_id(lp, p.tensors.size(), "tensor");
  t.name = lp.name(2, "tensor name");
  t.cls = read_named(lp, lp.str("class"), "class",
                     {TensorClass::weight, TensorClass::embedding, TensorClass::activation});
  t.layer = static_cast<int>(lp.i64("layer", -1, kMaxLayers - 1));
  auto s = lp.dims("shape", {kMaxBatch, kMaxTableRows, kMaxTableRows});
  t.batch = s[0];
  t.rows = s[1];
  t.cols = s[2];
  if (t.rows > kMaxWidth && t.cols > kMaxWidth)
    lp.fail(fmt::format("shape: {}x{}x{} too large (rows or cols must be at most {})", t.batch,
                        t.rows, t.cols, kMaxWidth));
  t.sparsity = lp.fraction("sparsity");
  t.data_bytes = lp.u64("data_bytes");
  t.mask_bytes = lp.u64("mask_bytes");
  const uint64_t data = zero_free_bytes(t.elements(), p.info.word_bits, t.sparsity);
  if (t.data_bytes != data)
    lp.fail(fmt::format(
        "data_bytes: {} disagrees with shape {}x{}x{}, {} bits per word and sparsity {} ({})",
        t.data_bytes, t.batch, t.rows, t.cols, p.info.word_bits, t.sparsity, data));
  if (t.mask_bytes != mask_bytes_for(t.elements()))
    lp.fail(fmt::format("mask_bytes: {} disagrees with shape {}x{}x{} ({})", t.mask_bytes, t.batch,
                        t.rows, t.cols, mask_bytes_for(t.elements())));
  // Part sizes (0 = the whole extent), each at most its extent.
  auto pt = lp.dims("parts", {t.batch, t.rows, t.cols}, 0);
  t.part_b = pt[0];
  t.part_rows = pt[1];
  t.part_cols = pt[2];
  return t;
}

Op read_op(LineParser& lp, const Program& p) {
  using namespace limits;
  Op o;
  o.id = read_id(lp, p.ops.size(), "op");
  o.name = lp.name(2, "op name");
  o.kind = read_named(
      lp, lp.str("kind"), "kind",
      {OpKind::matmul, OpKind::softmax, OpKind::layer_norm, OpKind::add, OpKind::activation});
  o.layer = static_cast<int>(lp.i64("layer", -1, kMaxLayers - 1));
  o.head = static_cast<int>(lp.i64("head", -1, kMaxHeadsPerLayer - 1));
  o.inputs = lp.ids("in", p.tensors.size(), "tensor");
  const size_t need = o.kind == OpKind::matmul ? 2 : 1;
  if (o.inputs.size() < need || (o.kind == OpKind::matmul && o.inputs.size() > 3))
    lp.fail(fmt::format("in: a {} op takes {} input tensors, got {}", to_string(o.kind),
                        o.kind == OpKind::matmul ? "2 or 3 (with a bias)" : "1 or more",
                        o.inputs.size()));
  o.output = static_cast<TensorId>(lp.u64("out", kNone - 1));
  if (o.output >= p.tensors.size()) lp.fail(fmt::format("out: tensor {} not defined", o.output));
  auto d = lp.dims("dims", {kMaxBatch, kMaxWidth, kMaxWidth, kMaxWidth});
  o.b = d[0];
  o.m = d[1];
  o.k = d[2];
  o.n = d[3];
  if (o.kind != OpKind::matmul && o.k != 1)
    lp.fail(fmt::format("dims: a {} op has k = 1, got {}", to_string(o.kind), o.k));
  auto g = lp.dims("grid", {kMaxBatch, kMaxWidth, kMaxWidth, kMaxWidth});
  o.grid_b = g[0];
  o.grid_i = g[1];
  o.grid_j = g[2];
  o.grid_k = g[3];
  Op expect = o;
  set_tile_grid(expect, p.info.tile);
  if (expect.grid_b != o.grid_b || expect.grid_i != o.grid_i || expect.grid_j != o.grid_j ||
      expect.grid_k != o.grid_k)
    lp.fail(fmt::format(
        "grid: {}x{}x{}x{} disagrees with dims {}x{}x{}x{} and tile {}x{}x{} "
        "(expected {}x{}x{}x{})",
        o.grid_b, o.grid_i, o.grid_j, o.grid_k, o.b, o.m, o.k, o.n, p.info.tile.b, p.info.tile.x,
        p.info.tile.y, expect.grid_b, expect.grid_i, expect.grid_j, expect.grid_k));
  o.b_operand_batched = lp.flag("b_batched");
  o.prune = lp.flag("prune");
  const std::string& rows = lp.str("in_rows");
  if (rows != "-") {
    o.in_rows = rows;
    if (o.in_rows.size() != o.inputs.size() ||
        o.in_rows.find_first_not_of("mkna") != std::string::npos)
      lp.fail(fmt::format("in_rows: '{}' needs one of m, k, n, a per input ({} inputs)", rows,
                          o.inputs.size()));
  }
  for (uint32_t c : lp.ids("in_col", kMaxWidth * 64 + 1, "column")) o.in_col.push_back(c);
  if (!o.in_col.empty() && o.in_col.size() != o.inputs.size())
    lp.fail(fmt::format("in_col: one column per input ({} inputs)", o.inputs.size()));
  for (size_t n = 0; n < o.in_col.size(); ++n)
    if (o.in_col[n] >= p.tensors[o.inputs[n]].cols)
      lp.fail(fmt::format("in_col: column {} outside input tensor {} ({} columns)", o.in_col[n],
                          o.inputs[n], p.tensors[o.inputs[n]].cols));
  const std::string& orows = lp.str("out_rows");
  if (orows != "m" && orows != "a")
    lp.fail(fmt::format("out_rows: '{}' unknown; allowed: m, a", orows));
  o.out_rows = orows[0];
  o.out_col = lp.i64("out_col", 0, kMaxWidth * 64);
  auto bk = lp.dims("block", {o.grid_b, o.grid_i, o.grid_j, o.grid_k}, 0);
  o.blk_b = bk[0];
  o.blk_i = bk[1];
  o.blk_j = bk[2];
  o.blk_k = bk[3];
  const Tensor& out = p.tensors[o.output];
  // The output: the op's whole result, or (heads writing their slice of a concatenation) the
  // columns [out_col, out_col + n); a transposed result ('a') only needs matching elements.
  const bool fits = o.out_rows == 'a'
                        ? out.elements() >= static_cast<uint64_t>(o.b * o.m * o.n)
                        : out.batch == o.b && out.rows == o.m && o.out_col + o.n <= out.cols &&
                              (o.out_col > 0 || o.n <= out.cols);
  if (!fits)
    lp.fail(
        fmt::format("out: tensor {} has shape {}x{}x{}, but the op produces {}x{}x{} at column {}",
                    out.id, out.batch, out.rows, out.cols, o.b, o.m, o.n, o.out_col));
  if (out.cls != TensorClass::activation)
    lp.fail(fmt::format("out: tensor {} is a {}, not an activation", out.id, to_string(out.cls)));
  return o;
}

Instruction read_instruction(LineParser& lp, const Program& p, const Counts& counts,
                             std::vector<uint32_t>* deps) {
  Instruction in;
  in.id = read_id(lp, p.instrs.size(), "instruction");
  const std::string& opc = lp.pos(2, "opcode");
  if (!parse_opcode(opc, &in.opcode))
    lp.fail(fmt::format(
        "opcode '{}' unknown; allowed: LOAD_W, LOAD_A, STORE_A, SPILL, STORE_M, MATMUL, "
        "SOFTMAX, LAYERNORM, EWISE, ACT",
        opc));
  const std::string& ops = lp.str("op");
  in.op = ops == "-" ? kNone : static_cast<OpId>(lp.u64(ops, "op", kNone - 1));
  in.tensor = static_cast<TensorId>(lp.u64("tensor", kNone - 1));
  if (in.tensor >= p.tensors.size()) lp.fail(fmt::format("tensor {} not defined", in.tensor));
  if (in.op != kNone && in.op >= p.ops.size()) lp.fail(fmt::format("op {} not defined", in.op));
  const Tensor& ten = p.tensors[in.tensor];
  if (is_compute(in.opcode)) {
    if (in.op == kNone) lp.fail("a tile job needs op=");
    const Op& op = p.ops[in.op];
    if (opcode_of(op.kind) != in.opcode)
      lp.fail(
          fmt::format("opcode {} does not match op {} of kind {}", opc, in.op, to_string(op.kind)));
    if (in.tensor != op.output)
      lp.fail(fmt::format("tensor {} is not the output of op {} (tensor {})", in.tensor, in.op,
                          op.output));
    const std::string& r = lp.str("tiles");
    auto plus = r.find('+');
    if (plus == std::string::npos) lp.fail(fmt::format("tiles: '{}' must be first+count", r));
    in.first_tile = lp.u64(r.substr(0, plus), "tiles");
    in.tile_count = lp.u64(r.substr(plus + 1), "tiles");
    const BlockGrid g = block_grid(op);
    in.block = static_cast<uint32_t>(lp.u64("block", g.blocks() - 1));
    const uint64_t tiles = block_box(op, g, in.block).tiles();
    if (in.tile_count == 0 || in.first_tile >= tiles || in.tile_count > tiles - in.first_tile)
      lp.fail(
          fmt::format("tiles {} outside block {} of op {} ({} tiles)", r, in.block, in.op, tiles));
  } else {
    if (in.opcode == Opcode::LOAD_W && ten.cls == TensorClass::activation)
      lp.fail(
          fmt::format("LOAD_W of tensor {}, an activation (LOAD_W moves weights and "
                      "embeddings)",
                      in.tensor));
    if (in.opcode == Opcode::STORE_A && (in.op == kNone || p.ops[in.op].output != in.tensor))
      lp.fail(
          fmt::format("STORE_A of tensor {} needs op= naming the op that produces it", in.tensor));
    const PartGrid g = part_grid(ten);
    in.part = static_cast<uint32_t>(lp.u64("part", g.parts() - 1));
    in.data_bytes = lp.u64("bytes");
    in.mask_bytes = lp.u64("mask_bytes");
    const uint64_t data = part_data_bytes(ten, g, in.part, p.info.word_bits);
    const uint64_t mask = part_mask_bytes(ten, g, in.part);
    if (in.data_bytes != data || in.mask_bytes != mask)
      lp.fail(
          fmt::format("bytes={} mask_bytes={} disagree with part {} of tensor {} ({} and {} bytes)",
                      in.data_bytes, in.mask_bytes, in.part, in.tensor, data, mask));
  }
  // Forward dependencies are legal here (a hand-written stream may have a cycle, which the
  // control block reports as a deadlock); ids must exist and not name the instruction itself.
  *deps = lp.ids("deps", counts.instructions, "instruction");
  for (InstrId d : *deps)
    if (d == in.id) lp.fail(fmt::format("instruction {} depends on itself", in.id));
  in.dep_count = static_cast<uint32_t>(deps->size());
  return in;
}

// Every tile of every block of every op is covered by exactly one tile-job instruction (a
// missing or doubled range would silently change the run).
void check_tile_coverage(const Program& p, const std::string& source) {
  struct Range {
    uint64_t op, block, first, count;
    bool operator<(const Range& o) const {
      return op != o.op ? op < o.op : block != o.block ? block < o.block : first < o.first;
    }
  };
  std::vector<Range> ranges;
  for (const auto& in : p.instrs) {
    if (!is_compute(in.opcode)) continue;
    // A range that carries on the previous one (the pieces of a block) extends it.
    Range* last = ranges.empty() ? nullptr : &ranges.back();
    if (last && last->op == in.op && last->block == in.block &&
        last->first + last->count == in.first_tile)
      last->count += in.tile_count;
    else
      ranges.push_back({in.op, in.block, in.first_tile, in.tile_count});
  }
  std::sort(ranges.begin(), ranges.end());
  auto gap = [&](const Op& op, uint64_t block, uint64_t from, uint64_t to, const char* what) {
    return InputError(fmt::format("{}: op {} ({}): tiles {} to {} of block {} are {}", source,
                                  op.id, op.name, from, to, block, what));
  };
  size_t r = 0;
  for (const auto& op : p.ops) {
    // Each block's ranges, sorted by first tile, must cover [0, its tiles) end to end.
    const BlockGrid g = block_grid(op);
    for (uint64_t b = 0; b < g.blocks(); ++b) {
      const uint64_t tiles = block_box(op, g, b).tiles();
      uint64_t next = 0;
      for (; r < ranges.size() && ranges[r].op == op.id && ranges[r].block == b; ++r) {
        if (ranges[r].first > next)
          throw gap(op, b, next, ranges[r].first - 1, "in no instruction");
        if (ranges[r].first < next)
          throw gap(op, b, ranges[r].first, next - 1, "in two instructions");
        next = ranges[r].first + ranges[r].count;
      }
      if (next != tiles) throw gap(op, b, next, tiles - 1, "in no instruction");
    }
  }
}

}  // namespace

namespace {

constexpr size_t kMaxHeaderLineBytes = 64 * 1024;

// The state of one pass over an instruction stream: the program read so far, the section the
// reader is in, the declared counts and the running checksum (docs/isa.md).
class ProgramReader {
 public:
  explicit ProgramReader(const std::string& source) : source_(source) {}

  // The longest line this reader accepts next: 64 KiB up to the counts, then room for a
  // dependency list naming every instruction (a reference STORE_A waits for its op's pieces).
  size_t line_limit() const {
    return at_ < Section::tensors ? kMaxHeaderLineBytes
                                  : kMaxHeaderLineBytes + 12 * counts_.instructions;
  }
  [[noreturn]] void fail_next_line_too_long() const {
    throw InputError(
        fmt::format("{}:{}: line longer than {} bytes: not an AccelTran instruction "
                    "stream (or a damaged one)",
                    source_, line_number_ + 1, line_limit()));
  }

  void read_line(const std::string& line) {
    ++line_number_;
    if (!line.empty() && line.back() == '\r')
      throw where(
          "the line ends in a carriage return (Windows line endings): convert the file with "
          "dos2unix, or write it again with `acceltran compile -o`");
    if (line_number_ == 1) {
      check_magic(line);
      return;
    }
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (at_ == Section::end) {
      if (blank) return;
      throw where("text after the 'end' line");
    }
    if (blank || line[0] == '#') {
      sum_.add(line);
      return;
    }
    LineParser lp(source_, line_number_, line);
    // The 'end' record is not part of its own checksum.
    if (read_record(lp)) return;
    lp.finish();
    sum_.add(line);
  }

  Program finish() {
    if (line_number_ == 0)
      throw InputError(fmt::format("{}: empty file, not an AccelTran instruction stream", source_));
    if (at_ != Section::end) {
      const char* missing = at_ == Section::info           ? "the 'info' line"
                            : at_ == Section::compiled_for ? "the 'compiled_for' line"
                            : at_ == Section::counts       ? "the 'counts' line"
                                                           : "the 'end' line";
      throw InputError(fmt::format(
          "{}:{}: file ends without {} after {} of {} tensors, {} of {} ops, {} of {} "
          "instructions: the file is incomplete (cut short?); write it again with `acceltran "
          "compile -o`",
          source_, line_number_, missing, p_.tensors.size(), counts_.tensors, p_.ops.size(),
          counts_.ops, p_.instrs.size(), counts_.instructions));
    }
    if (p_.instrs.empty())
      throw InputError(fmt::format("{}: the program has no instructions", source_));
    check_tile_coverage(p_, source_);
    return std::move(p_);
  }

 private:
  InputError where(const std::string& why) const {
    return InputError(fmt::format("{}:{}: {}", source_, line_number_, why));
  }

  void check_magic(const std::string& line) {
    if (line != kIsaMagic) {
      if (line == "# acceltran-isa 2")
        throw where(fmt::format(
            "format 'acceltran-isa 2' has no record of the model, accelerator and options the "
            "program was compiled for, which this build checks (it reads '{}'); recompile it "
            "with `acceltran compile ... -o {}`",
            std::string(kIsaMagic).substr(2), source_));
      if (line.rfind("# acceltran-isa ", 0) == 0)
        throw where(fmt::format("format '{}' not supported (this build reads '{}'); write the "
                                "file again with `acceltran compile -o`",
                                line.substr(2), std::string(kIsaMagic).substr(2)));
      throw where(fmt::format("not an AccelTran instruction stream (expected '{}')", kIsaMagic));
    }
    sum_.add(line);
  }

  // One record; true for the 'end' record (already finished).
  bool read_record(LineParser& lp) {
    const std::string kind = lp.pos(0, "record type");
    if (kind == "info") {
      if (at_ != Section::info) lp.fail("a second 'info' line");
      read_info(lp, p_.info);
      at_ = Section::compiled_for;
    } else if (kind == "compiled_for") {
      if (at_ != Section::compiled_for)
        lp.fail(at_ == Section::info ? "'compiled_for' before the 'info' line"
                                     : "a second 'compiled_for' line");
      read_compiled_for(lp, p_.info);
      at_ = Section::counts;
    } else if (kind == "counts") {
      if (at_ != Section::counts)
        lp.fail(at_ == Section::info           ? "'counts' before the 'info' line"
                : at_ == Section::compiled_for ? "'counts' before the 'compiled_for' line"
                                               : "a second 'counts' line");
      counts_ = read_counts(lp);
      at_ = Section::tensors;
    } else if (at_ < Section::tensors &&
               (kind == "tensor" || kind == "op" || kind == "i" || kind == "end")) {
      lp.fail(fmt::format("'{}' record before the {} line", kind,
                          at_ == Section::info           ? "'info'"
                          : at_ == Section::compiled_for ? "'compiled_for'"
                                                         : "'counts'"));
    } else if (kind == "tensor") {
      read_tensor_record(lp, kind);
    } else if (kind == "op") {
      read_op_record(lp, kind);
    } else if (kind == "i") {
      read_instruction_record(lp);
    } else if (kind == "end") {
      read_end(lp);
      return true;
    } else {
      lp.fail(
          fmt::format("record type '{}' unknown; allowed: info, compiled_for, counts, tensor, "
                      "op, i, end",
                      kind));
    }
    return false;
  }

  // Records come in section order: tensors, then ops, then instructions.
  void expect_section(LineParser& lp, Section section, const std::string& kind,
                      const char* later_records) const {
    if (at_ > section)
      lp.fail(fmt::format("'{}' record after the {} records", kind, later_records));
  }

  void read_tensor_record(LineParser& lp, const std::string& kind) {
    expect_section(lp, Section::tensors, kind, at_ == Section::ops ? "op" : "instruction");
    if (p_.tensors.size() >= counts_.tensors)
      lp.fail(fmt::format("more tensors than 'counts tensors={}'", counts_.tensors));
    p_.tensors.push_back(read_tensor(lp, p_));
  }

  void read_op_record(LineParser& lp, const std::string& kind) {
    expect_section(lp, Section::ops, kind, "instruction");
    at_ = Section::ops;
    if (p_.ops.size() >= counts_.ops)
      lp.fail(fmt::format("more ops than 'counts ops={}'", counts_.ops));
    p_.ops.push_back(read_op(lp, p_));
    tiles_ += p_.ops.back().tile_count();  // each op's count < 2^60: no overflow below the limit
    if (tiles_ > limits::kMaxTiles)
      lp.fail(fmt::format("the program has more than {} tiles; this build simulates at most {}",
                          limits::kMaxTiles, limits::kMaxTiles));
  }

  void read_instruction_record(LineParser& lp) {
    at_ = Section::instructions;
    if (p_.instrs.size() >= counts_.instructions)
      lp.fail(fmt::format("more instructions than 'counts instructions={}'", counts_.instructions));
    Instruction ins = read_instruction(lp, p_, counts_, &deps_);
    append_instruction(p_, ins, deps_.data(), deps_.data() + deps_.size());
  }

  void read_end(LineParser& lp) {
    const uint64_t instructions = lp.u64("instructions", kNone - 1);
    const std::string& checksum = lp.str("checksum");
    lp.finish();
    if (p_.tensors.size() != counts_.tensors || p_.ops.size() != counts_.ops ||
        p_.instrs.size() != counts_.instructions)
      lp.fail(fmt::format(
          "'counts' says {} tensors, {} ops and {} instructions, the file has {}, {} and {}",
          counts_.tensors, counts_.ops, counts_.instructions, p_.tensors.size(), p_.ops.size(),
          p_.instrs.size()));
    if (instructions != p_.instrs.size())
      lp.fail(
          fmt::format("end: instructions={} but the file has {}", instructions, p_.instrs.size()));
    // checksum=- marks a hand-edited stream: only its instruction count is checked.
    if (checksum != "-" && checksum != sum_.hex())
      lp.fail(fmt::format("checksum {} does not match the file's contents ({}): the file was "
                          "changed after `acceltran compile -o` wrote it",
                          checksum, sum_.hex()));
    at_ = Section::end;
  }

  const std::string& source_;
  Program p_;
  std::vector<uint32_t> deps_;  // the dependencies of the instruction being read
  size_t line_number_ = 0;
  Section at_ = Section::info;
  Counts counts_;
  Checksum sum_;
  uint64_t tiles_ = 0;
};

}  // namespace

// The next line of `in` into `line` (without its newline) if it has at most `limit` bytes;
// false at the end of the input, or with `*too_long` set when the line is longer.
bool read_bounded_line(std::istream& in, std::string& line, size_t limit, bool* too_long) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  for (int c = buffer->sbumpc(); c != std::char_traits<char>::eof(); c = buffer->sbumpc()) {
    any = true;
    if (c == '\n') return true;
    if (line.size() == limit) {
      *too_long = true;
      return false;
    }
    line.push_back(static_cast<char>(c));
  }
  return any;
}

Program read_program(std::istream& in, const std::string& source) {
  ProgramReader reader(source);
  std::string line;
  bool too_long = false;
  while (read_bounded_line(in, line, reader.line_limit(), &too_long)) reader.read_line(line);
  if (too_long) reader.fail_next_line_too_long();
  return reader.finish();
}

Program read_program_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("{}: is a folder, not an instruction file", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: instruction file not found or not readable", path));
  return read_program(in, path);
}

}  // namespace acceltran

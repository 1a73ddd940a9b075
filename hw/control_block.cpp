#include "control_block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace acceltran {

using proto::cycles_to_time;
using proto::time_to_cycles;

namespace {
constexpr uint64_t kAlign = 4096;  // tensors start on a 4 KiB boundary in main memory
}

ControlBlock::ControlBlock(sc_core::sc_module_name name, const Program& prog,
                           const AcceleratorConfig& cfg, const Technology& tech,
                           const ControlOptions& copts, SramBuffer& activation, SramBuffer& weight,
                           SramBuffer& mask)
    : sc_module(name),
      pe_socket("pe_socket"),
      softmax_socket("softmax_socket"),
      layer_norm_socket("layer_norm_socket"),
      dma_socket("dma_socket"),
      prog_(prog),
      cfg_(cfg),
      copts_(copts),
      act_(activation),
      wgt_(weight),
      mask_(mask),
      clock_mhz_(tech.clock_mhz) {
  const size_t n = prog.instrs.size();
  state_.assign(n, State::waiting);
  blocked_.assign(n, Block::none);
  tensors_.resize(prog.tensors.size());
  uint64_t addr = 0;
  for (const auto& t : prog.tensors) {
    tensors_[t.id].address = addr;
    addr += (t.data_bytes + t.mask_bytes + kAlign - 1) / kAlign * kAlign;
  }
  int max_layer = 0, max_head = 0;
  for (const auto& op : prog.ops) {
    max_layer = std::max(max_layer, op.layer + 1);
    max_head = std::max(max_head, op.head + 1);
  }
  slots_per_layer_ = max_head + 1;
  issue_cursor_.assign(static_cast<size_t>(max_layer + 1) * slots_per_layer_, 0);
  for (const auto& in : prog.instrs) {
    if (is_compute(in.opcode))
      for (TensorId t : prog.ops[in.op].inputs) tensors_[t].readers_left += 1;
    if (in.opcode == Opcode::STORE_M) tensors_[in.tensor].output_pending = true;
  }
  // Reverse dependencies (CSR) and the number of unfinished dependencies of each instruction.
  deps_left_.assign(n, 0);
  std::vector<uint32_t> count(n + 1, 0);
  for (const auto& in : prog.instrs)
    for (auto d = prog.deps_begin(in); d != prog.deps_end(in); ++d) {
      if (*d >= n || *d == in.id)
        throw InputError(fmt::format("instruction {} depends on {}, which is {}", in.id, *d,
                                     *d == in.id ? "itself" : "not in the stream"));
      count[*d + 1] += 1;
      deps_left_[in.id] += 1;
    }
  for (size_t i = 0; i < n; ++i) count[i + 1] += count[i];
  rdeps_begin_ = count;
  rdeps_.assign(count[n], 0);
  for (const auto& in : prog.instrs)
    for (auto d = prog.deps_begin(in); d != prog.deps_end(in); ++d) rdeps_[count[*d]++] = in.id;
  for (size_t i = 0; i < n; ++i)
    if (deps_left_[i] == 0) ready_.insert(static_cast<uint32_t>(i));

  auto needed = [this](const ResidentKey& k) { return needed_later(k.tensor); };
  act_.set_needed_later(needed);
  wgt_.set_needed_later(needed);
  mask_.set_needed_later(needed);
  job_gp_.set_extension(&job_);
  job_gp_.set_command(tlm::TLM_WRITE_COMMAND);
  job_gp_.set_address(0);
  job_gp_.set_data_ptr(nullptr);
  job_gp_.set_data_length(0);
  xfer_gp_.set_extension(&xfer_);
  xfer_gp_.set_data_ptr(nullptr);
  SC_THREAD(run);
}

ControlBlock::~ControlBlock() {
  job_gp_.clear_extension(&job_);
  xfer_gp_.clear_extension(&xfer_);
}

bool ControlBlock::needed_later(TensorId t) const {
  const Tensor& ten = prog_.tensors[t];
  const TensorState& s = tensors_[t];
  return ten.cls == TensorClass::activation && (s.readers_left > 0 || s.output_pending);
}

SramBuffer& ControlBlock::buffer_of(TensorId t) {
  return prog_.tensors[t].cls == TensorClass::activation ? act_ : wgt_;
}

EngineClass ControlBlock::engine_of(Opcode op) const {
  switch (op) {
    case Opcode::SOFTMAX:
      return EngineClass::softmax;
    case Opcode::LAYERNORM:
      return EngineClass::layer_norm;
    case Opcode::MATMUL:
    case Opcode::EWISE:
    case Opcode::ACT:
      return EngineClass::lanes;
    default:
      return EngineClass::dma;
  }
}

// ---------------------------------------------------------------- main loop
void ControlBlock::run() {
  const uint64_t n = prog_.instrs.size();
  uint64_t now = time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
  while (done_ < n) {
    try_issue(now);
    if (events_.empty()) {
      stats_.deadlock = deadlock_report(now);
      break;
    }
    const uint64_t next = events_.top().cycle;
    if (next > now) {
      if (compute_in_flight_ == 0) {
        const uint64_t gap = next - now;
        switch (oldest_compute_block_) {
          case Block::memory:
            stats_.stall_memory_cycles += gap;
            break;
          case Block::buffer_full:
            stats_.stall_buffer_full_cycles += gap;
            break;
          case Block::dependency:
            stats_.stall_dependency_cycles += gap;
            break;
          case Block::none:
            break;
        }
      }
      sc_core::wait(cycles_to_time(next, clock_mhz_) - sc_core::sc_time_stamp());
      now = next;
    }
    while (!events_.empty() && events_.top().cycle <= now) {
      uint32_t id = events_.top().id;
      events_.pop();
      complete(id, now);
    }
    if (on_event) on_event(now);
    if (copts_.progress) copts_.progress(done_, n, now);
  }
  stats_.end_cycle = now;
  stats_.finished = done_ == n;
  if (on_event) on_event(now);
}

bool ControlBlock::deps_done(const Instruction& in) const {
  return deps_left_[in.id] == 0;
}

void ControlBlock::try_issue(uint64_t now) {
  const uint32_t n = static_cast<uint32_t>(prog_.instrs.size());
  while (head_ < n && state_[head_] == State::done) ++head_;
  if (copts_.in_order) {
    // Two in-order streams: memory instructions and tile jobs, each issued in program order.
    for (bool progress = true; progress;) {
      progress = false;
      while (next_mem_ < n &&
             (!is_memory(prog_.instrs[next_mem_].opcode) || state_[next_mem_] != State::waiting))
        ++next_mem_;
      while (next_compute_ < n && (!is_compute(prog_.instrs[next_compute_].opcode) ||
                                   state_[next_compute_] != State::waiting))
        ++next_compute_;
      for (uint32_t* p : {&next_mem_, &next_compute_}) {
        if (*p >= n) continue;
        const Instruction& in = prog_.instrs[*p];
        if (!deps_done(in)) {
          blocked_[in.id] = Block::dependency;
          continue;
        }
        Block b = try_issue_one(in, now);
        blocked_[in.id] = b;
        if (b == Block::none) progress = true;
      }
    }
  } else {
    // Dependency-driven: any ready instruction whose op lies in the lookahead window.
    const OpId head_op = head_ < n ? op_of(prog_.instrs[head_]) : 0;
    const uint64_t limit = static_cast<uint64_t>(head_op) + copts_.lookahead;
    for (auto it = ready_.begin(); it != ready_.end();) {
      const Instruction& in = prog_.instrs[*it];
      if (op_of(in) > limit) break;
      Block b = try_issue_one(in, now);
      blocked_[in.id] = b;
      it = b == Block::none ? ready_.erase(it) : std::next(it);
    }
  }
  // Why the oldest waiting tile job waits (for stall accounting).
  while (oldest_compute_ < n && (!is_compute(prog_.instrs[oldest_compute_].opcode) ||
                                 state_[oldest_compute_] != State::waiting))
    ++oldest_compute_;
  oldest_compute_block_ = Block::none;
  if (oldest_compute_ < n) {
    const Instruction& in = prog_.instrs[oldest_compute_];
    if (!deps_done(in)) {
      oldest_compute_block_ = Block::dependency;
      for (auto d = prog_.deps_begin(in); d != prog_.deps_end(in); ++d)
        if (state_[*d] != State::done && is_memory(prog_.instrs[*d].opcode) &&
            prog_.instrs[*d].opcode != Opcode::STORE_A)
          oldest_compute_block_ = Block::memory;
    } else {
      oldest_compute_block_ = blocked_[in.id] == Block::none ? Block::dependency : blocked_[in.id];
    }
  }
}

OpId ControlBlock::op_of(const Instruction& in) const {
  return in.op == kNone ? static_cast<OpId>(prog_.ops.size()) : in.op;
}

// ---------------------------------------------------------------- issue
ControlBlock::Block ControlBlock::try_issue_one(const Instruction& in, uint64_t now) {
  TensorState& ts = tensors_[in.tensor];
  uint64_t completion = now;
  if (is_compute(in.opcode)) {
    const Op& op = prog_.ops[in.op];
    for (TensorId t : op.inputs)
      if (Block b = ensure_resident(t, now); b != Block::none) return b;
    for (TensorId t : op.inputs) {  // pinned first: allocating the output must not evict them
      buffer_of(t).pin({t, 0});
      mask_.pin({t, 0});
    }
    if (!ts.allocated_output) {
      if (!allocate(in.tensor, now, true)) {
        for (TensorId t : op.inputs) {
          buffer_of(t).unpin({t, 0});
          mask_.unpin({t, 0});
        }
        return Block::buffer_full;
      }
      ts.allocated_output = true;
      ts.res = Residency::resident;
    }
    completion = dispatch(in, now);
    compute_in_flight_ += 1;
    current_layer_ = op.layer;
    current_op_ = op.id;
  } else {
    switch (in.opcode) {
      case Opcode::LOAD_W:
      case Opcode::LOAD_A:
        if (ts.res == Residency::resident) break;  // already on chip: nothing to move
        if (ts.res == Residency::loading || ts.res == Residency::spilling) return Block::memory;
        if (!allocate(in.tensor, now, true)) return Block::buffer_full;
        ts.res = Residency::loading;
        completion = transfer(in.opcode, in.tensor, now);
        break;
      case Opcode::STORE_A:
        completion = transfer(Opcode::STORE_A, in.tensor, now);
        break;
      case Opcode::STORE_M:
      case Opcode::SPILL:
        if (ts.res == Residency::in_memory) break;  // already written back by a spill
        if (ts.res != Residency::resident) {
          if (Block b = ensure_resident(in.tensor, now); b != Block::none) return b;
        }
        buffer_of(in.tensor).pin({in.tensor, 0});
        mask_.pin({in.tensor, 0});
        completion = transfer(in.opcode, in.tensor, now);
        break;
      default:
        break;
    }
    in_flight_[static_cast<int>(EngineClass::dma)] += 1;
  }
  state_[in.id] = State::issued;
  issued_total_ += 1;
  stats_.issued[static_cast<int>(in.opcode)] += 1;
  events_.push(Event{completion, in.id});
  return Block::none;
}

ControlBlock::Block ControlBlock::ensure_resident(TensorId t, uint64_t now) {
  TensorState& s = tensors_[t];
  switch (s.res) {
    case Residency::resident:
      buffer_of(t).lookup({t, 0}, now);
      return Block::none;
    case Residency::loading:
    case Residency::spilling:
      return Block::memory;
    case Residency::absent:
      if (prog_.tensors[t].cls == TensorClass::activation)
        return Block::dependency;  // not produced yet (hand-written streams)
      [[fallthrough]];
    case Residency::in_memory: {
      // Reload: a spilled activation (LOAD_A) or an evicted weight (LOAD_W again).
      if (!allocate(t, now, true)) return Block::buffer_full;
      const Opcode op =
          prog_.tensors[t].cls == TensorClass::activation ? Opcode::LOAD_A : Opcode::LOAD_W;
      s.res = Residency::loading;
      const uint64_t done = transfer(op, t, now);
      stats_.reloads += 1;
      stats_.reload_bytes += prog_.tensors[t].data_bytes + prog_.tensors[t].mask_bytes;
      internal_.push_back(Internal{t, op});
      events_.push(Event{done, static_cast<uint32_t>(internal_.size() - 1) | kInternal});
      return Block::memory;
    }
  }
  return Block::none;
}

bool ControlBlock::allocate(TensorId t, uint64_t now, bool pin) {
  const Tensor& ten = prog_.tensors[t];
  SramBuffer& buf = buffer_of(t);
  const ResidentKey key{t, 0};
  AllocResult r = buf.allocate(key, ten.data_bytes, ten.name, now);
  if (!r.fitted) return false;
  AllocResult m = mask_.allocate(key, ten.mask_bytes, ten.name, now);
  if (!m.fitted) {
    buf.release(key, now);
    return false;
  }
  for (const auto& e : r.evicted) evicted(e.key.tensor, now, &buf);
  for (const auto& e : m.evicted) evicted(e.key.tensor, now, &mask_);
  if (pin) {
    buf.pin(key);
    mask_.pin(key);
  }
  return true;
}

// A buffer dropped tensor t (data or mask) to make room: drop the other half, and write the
// data back to main memory if a later instruction still needs them.
void ControlBlock::evicted(TensorId t, uint64_t now, SramBuffer* from) {
  TensorState& s = tensors_[t];
  const ResidentKey key{t, 0};
  SramBuffer& data_buf = buffer_of(t);
  if (from != &data_buf && data_buf.contains(key)) data_buf.release(key, now);
  if (from != &mask_ && mask_.contains(key)) mask_.release(key, now);
  if (needed_later(t)) {
    s.res = Residency::spilling;
    const uint64_t done = transfer(Opcode::SPILL, t, now);
    stats_.spills += 1;
    stats_.spill_bytes += prog_.tensors[t].data_bytes + prog_.tensors[t].mask_bytes;
    internal_.push_back(Internal{t, Opcode::SPILL});
    events_.push(Event{done, static_cast<uint32_t>(internal_.size() - 1) | kInternal});
  } else {
    s.res = Residency::absent;  // dead data, or a weight that is reloaded from its home copy
  }
}

uint64_t ControlBlock::transfer(Opcode op, TensorId t, uint64_t now) {
  const Tensor& ten = prog_.tensors[t];
  xfer_.opcode = op;
  xfer_.tensor = t;
  xfer_.buffer =
      ten.cls == TensorClass::activation ? proto::Buffer::activation : proto::Buffer::weight;
  xfer_.data_bytes = ten.data_bytes;
  xfer_.mask_bytes = ten.mask_bytes;
  xfer_.sequential = true;
  const bool load = op == Opcode::LOAD_W || op == Opcode::LOAD_A;
  xfer_gp_.set_command(load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
  xfer_gp_.set_address(tensors_[t].address);
  xfer_gp_.set_data_ptr(nullptr);
  xfer_gp_.set_data_length(static_cast<unsigned>(std::min<uint64_t>(ten.data_bytes, 0xffffffffu)));
  xfer_gp_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_core::sc_time delay = cycles_to_time(now, clock_mhz_) - sc_core::sc_time_stamp();
  dma_socket->b_transport(xfer_gp_, delay);
  if (xfer_gp_.is_response_error())
    throw std::runtime_error(fmt::format("DMA rejected {} of tensor {}: {}", to_string(op),
                                         ten.name, xfer_gp_.get_response_string()));
  const uint64_t done = time_to_cycles(sc_core::sc_time_stamp() + delay, clock_mhz_);
  stats_.busy[static_cast<int>(EngineClass::dma)].push_back(BusyInterval{now, done, done - now});
  return std::max(done, now);
}

uint64_t ControlBlock::dispatch(const Instruction& in, uint64_t now) {
  const Op& op = prog_.ops[in.op];
  const size_t slot = static_cast<size_t>(op.layer + 1) * slots_per_layer_ + (op.head + 1);
  const uint64_t start = std::max(now, issue_cursor_[slot]);
  const uint64_t width = static_cast<uint64_t>(cfg_.issue_width);
  auto& socket = in.opcode == Opcode::SOFTMAX     ? softmax_socket
                 : in.opcode == Opcode::LAYERNORM ? layer_norm_socket
                                                  : pe_socket;
  job_.op = &op;
  job_.opcode = in.opcode;
  job_.loop_order = prog_.info.loop_order;
  job_.activation_sparsity = prog_.info.activation_sparsity;
  job_.weight_sparsity = prog_.info.weight_sparsity;
  job_.pe = -1;
  uint64_t completion = start, busy = 0;
  const uint64_t end = in.first_tile + in.tile_count;
  const sc_core::sc_time stamp = sc_core::sc_time_stamp();
  for (uint64_t first = in.first_tile; first < end; first += width) {
    const uint64_t request = start + (first - in.first_tile) / width;
    job_.first_tile = first;
    job_.tile_count = std::min(width, end - first);
    job_.busy_unit_cycles = 0;
    job_.operand_reads_saved = 0;
    job_gp_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = cycles_to_time(request, clock_mhz_) - stamp;
    socket->b_transport(job_gp_, delay);
    if (job_gp_.is_response_error())
      throw std::runtime_error(fmt::format("engine rejected {} of op {}: {}", to_string(in.opcode),
                                           op.name, job_gp_.get_response_string()));
    const uint64_t done = time_to_cycles(stamp + delay, clock_mhz_);
    completion = std::max(completion, done);
    busy += job_.busy_unit_cycles;
    // Queueing beyond one tile's duration: the tiles waited for a free unit.
    const uint64_t per_tile = (job_.busy_unit_cycles + job_.tile_count - 1) / job_.tile_count;
    if (done > request + per_tile) stats_.stall_unit_cycles += done - request - per_tile;
    stats_.dispatches += 1;
  }
  issue_cursor_[slot] = start + (in.tile_count + width - 1) / width;
  stats_.tiles[static_cast<int>(in.opcode)] += in.tile_count;
  const EngineClass ec = engine_of(in.opcode);
  stats_.busy[static_cast<int>(ec)].push_back(BusyInterval{start, completion, busy});
  in_flight_[static_cast<int>(ec)] += 1;
  return completion;
}

// ---------------------------------------------------------------- completion
void ControlBlock::complete(uint32_t id, uint64_t /*now*/) {
  if (id & kInternal) {
    const Internal& x = internal_[id & ~kInternal];
    TensorState& s = tensors_[x.tensor];
    if (x.opcode == Opcode::SPILL) {
      if (s.res == Residency::spilling) s.res = Residency::in_memory;
    } else {
      s.res = Residency::resident;
      buffer_of(x.tensor).unpin({x.tensor, 0});
      mask_.unpin({x.tensor, 0});
    }
    return;
  }
  const Instruction& in = prog_.instrs[id];
  TensorState& ts = tensors_[in.tensor];
  if (is_compute(in.opcode)) {
    for (TensorId t : prog_.ops[in.op].inputs) {
      buffer_of(t).unpin({t, 0});
      mask_.unpin({t, 0});
      tensors_[t].readers_left -= 1;
    }
    compute_in_flight_ -= 1;
    in_flight_[static_cast<int>(engine_of(in.opcode))] -= 1;
  } else {
    in_flight_[static_cast<int>(EngineClass::dma)] -= 1;
    const ResidentKey key{in.tensor, 0};
    switch (in.opcode) {
      case Opcode::LOAD_W:
      case Opcode::LOAD_A:
        if (ts.res == Residency::loading) {
          ts.res = Residency::resident;
          buffer_of(in.tensor).unpin(key);
          mask_.unpin(key);
        }
        break;
      case Opcode::STORE_A:  // the output was pinned from its allocation until now
        if (buffer_of(in.tensor).pin_count(key) > 0) {
          buffer_of(in.tensor).unpin(key);
          mask_.unpin(key);
        }
        break;
      case Opcode::STORE_M:
      case Opcode::SPILL:
        ts.output_pending = false;
        if (buffer_of(in.tensor).contains(key) && buffer_of(in.tensor).pin_count(key) > 0) {
          buffer_of(in.tensor).unpin(key);
          mask_.unpin(key);
        }
        break;
      default:
        break;
    }
  }
  state_[id] = State::done;
  done_ += 1;
  stats_.completed[static_cast<int>(in.opcode)] += 1;
  for (uint32_t k = rdeps_begin_[id]; k < rdeps_begin_[id + 1]; ++k) {
    const uint32_t d = rdeps_[k];
    if (--deps_left_[d] == 0) ready_.insert(d);
  }
}

// ---------------------------------------------------------------- deadlock
std::string ControlBlock::deadlock_report(uint64_t now) const {
  std::string out = fmt::format(
      "deadlock at cycle {}: {} of {} instructions completed, nothing in flight and nothing can "
      "issue; oldest pending instructions:",
      now, done_, prog_.instrs.size());
  int shown = 0;
  for (const auto& in : prog_.instrs) {
    if (state_[in.id] != State::waiting) continue;
    std::string why;
    std::vector<std::string> waits;
    for (auto d = prog_.deps_begin(in); d != prog_.deps_end(in); ++d)
      if (state_[*d] != State::done)
        waits.push_back(fmt::format("{} {}", *d, to_string(prog_.instrs[*d].opcode)));
    if (!waits.empty()) {
      why = "waits for instruction";
      for (size_t k = 0; k < waits.size() && k < 4; ++k) why += (k ? ", " : " ") + waits[k];
      if (waits.size() > 4) why += fmt::format(" (+{} more)", waits.size() - 4);
    } else if (blocked_[in.id] == Block::buffer_full) {
      const Tensor& t = prog_.tensors[in.tensor];
      why = fmt::format("waits for buffer space ({} bytes; pinned data fill the buffer)",
                        t.data_bytes);
    } else if (!copts_.in_order && op_of(in) > op_of(prog_.instrs[head_]) + copts_.lookahead) {
      why = "outside the lookahead window";
    } else {
      why = "waits for its stream's earlier instructions";
    }
    out += fmt::format("\n  instruction {} {} ({}): {}", in.id, to_string(in.opcode),
                       prog_.tensors[in.tensor].name, why);
    if (++shown == 8) break;
  }
  return out;
}

}  // namespace acceltran

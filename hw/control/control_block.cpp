#include "control_block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "parts.hpp"
#include "tile_job_builder.hpp"

namespace acceltran {

using proto::cycles_to_time;
using proto::time_to_cycles;

namespace {
constexpr uint64_t kAlign = 4096;  // tensors start on a 4 KiB boundary in main memory
// Ready instructions past the lookahead window examined per issue pass for load run-ahead.
constexpr uint32_t kPrefetchScan = 4096;
}  // namespace

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
  reference_ = prog.info.profile == Profile::reference;
  stored_.assign(prog.tensors.size(), 0);
  for (const auto& in : prog.instrs)
    if (in.opcode == Opcode::STORE_A) stored_[in.tensor] = 1;
  state_.assign(n, State::waiting);
  blocked_.assign(n, Block::none);
  stats_.ops.resize(prog.ops.size());
  // Parts of every tensor; each part has its own home in main memory.
  part_base_.resize(prog.tensors.size());
  uint64_t addr = 0;
  for (const auto& t : prog.tensors) {
    const PartGrid g = part_grid(t);
    part_base_[t.id] = static_cast<uint32_t>(parts_.size());
    for (uint32_t p = 0; p < g.parts(); ++p) {
      PartState ps;
      ps.address = addr;
      const uint64_t data = copts.dense_homes
                                ? zero_free_bytes(part_elements(t, g, p), prog.info.word_bits, 0)
                                : part_data_bytes(t, g, p, prog.info.word_bits);
      addr += (data + part_mask_bytes(t, g, p) + kAlign - 1) / kAlign * kAlign;
      parts_.push_back(ps);
      part_tensor_.push_back(t.id);
    }
  }
  int max_layer = 0, max_head = 0;
  for (const auto& op : prog.ops) {
    max_layer = std::max(max_layer, op.layer + 1);
    max_head = std::max(max_head, op.head + 1);
  }
  slots_per_layer_ = max_head + 1;
  issue_cursor_.assign(static_cast<size_t>(max_layer + 1) * slots_per_layer_, 0);
  // The parts each tile job reads and writes (its block's boxes), and who reads each part.
  io_begin_.assign(n + 1, 0);
  for (const auto& in : prog.instrs) {
    io_begin_[in.id] = static_cast<uint32_t>(io_.size());
    if (is_compute(in.opcode)) {
      const Op& op = prog.ops[in.op];
      const BlockBox box = tile_range_box(block_box(op, in.block), prog.info.loop_order,
                                          in.first_tile, in.tile_count);
      const size_t first = io_.size();
      for (size_t k = 0; k < op.inputs.size(); ++k) {
        const TensorId t = op.inputs[k];
        for_each_part(part_grid(prog.tensors[t]), input_box(prog, op, k, box),
                      [&](uint32_t p) { io_.push_back(part_index(t, p)); });
      }
      std::sort(io_.begin() + static_cast<long>(first), io_.end());
      io_.erase(std::unique(io_.begin() + static_cast<long>(first), io_.end()), io_.end());
      for (size_t k = first; k < io_.size(); ++k) parts_[io_[k]].readers_left += 1;
      for_each_part(part_grid(prog.tensors[op.output]), output_box(prog, op, box),
                    [&](uint32_t p) { io_.push_back(part_index(op.output, p) | kWrite); });
    }
    if (in.opcode == Opcode::STORE_M) parts_[part_index(in.tensor, in.part)].output_pending = true;
  }
  io_begin_[n] = static_cast<uint32_t>(io_.size());
  churn_limit_ = std::max<uint64_t>(100000, 4 * parts_.size());
  held_.assign(parts_.size(), 0);
  wait_oldest_.assign(n, 0);
  tried_epoch_.assign(n, ~uint64_t{0});
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

  auto needed = [this](const ResidentKey& k) { return needed_later(k); };
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

void ControlBlock::release_gather() {
  // A part still being reloaded for the gatherer keeps the reload's pin until the reload
  // completes (then dropped, as it is no longer held).
  for (uint32_t p : gather_pins_) {
    const bool own_reload_pending = held_[p] == 2 && parts_[p].res == Residency::loading;
    held_[p] = 0;
    if (!own_reload_pending) unpin(p);
  }
  gather_pins_.clear();
  gather_waiting_.clear();
  gather_cursor_ = 0;
  gatherer_ = kNone;
}

bool ControlBlock::needed_later(const ResidentKey& k) const {
  const PartState& s = parts_[part_index(k.tensor, k.part)];
  return prog_.tensors[k.tensor].cls == TensorClass::activation &&
         (s.readers_left > 0 || s.output_pending);
}

uint64_t ControlBlock::part_data_bytes_of(uint32_t part) const {
  const Tensor& t = prog_.tensors[part_tensor_[part]];
  return part_data_bytes(t, part_grid(t), part - part_base_[t.id], prog_.info.word_bits);
}

uint64_t ControlBlock::part_mask_bytes_of(uint32_t part) const {
  const Tensor& t = prog_.tensors[part_tensor_[part]];
  return part_mask_bytes(t, part_grid(t), part - part_base_[t.id]);
}

void ControlBlock::pin(uint32_t part) {
  const ResidentKey k = key_of(part);
  buffer_of(k.tensor).pin(k);
  mask_.pin(k);
}

void ControlBlock::unpin(uint32_t part) {
  ++epoch_;
  const ResidentKey k = key_of(part);
  buffer_of(k.tensor).unpin(k);
  mask_.unpin(k);
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
      const sc_core::sc_time at = cycles_to_time(next, clock_mhz_);
      if (at > sc_core::sc_time_stamp()) sc_core::wait(at - sc_core::sc_time_stamp());
      now = next;
    }
    // A blocking target (an approximately-timed memory model answering on the backward path,
    // behind the DMA's burst option) may have let time pass inside a transaction: catch up.
    if (const uint64_t t = time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_); t > now) {
      if (compute_in_flight_ == 0) stats_.stall_memory_cycles += t - now;
      now = t;
    }
    while (!events_.empty() && events_.top().cycle <= now) {
      uint32_t id = events_.top().id;
      events_.pop();
      complete(id, now);
      churn_ = id & kInternal ? churn_ + 1 : 0;
    }
    if (churn_ > churn_limit_) {  // spills and reloads go on, but nothing completes: livelock
      stats_.deadlock = fmt::format(
          "no progress: {} spills and reloads since the last instruction completed (the "
          "buffers thrash); {}",
          churn_, deadlock_report(now));
      break;
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
  while (oldest_compute_ < n && (!is_compute(prog_.instrs[oldest_compute_].opcode) ||
                                 state_[oldest_compute_] != State::waiting))
    ++oldest_compute_;
  if (gatherer_ != oldest_compute_) release_gather();
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
    // Dependency-driven: any ready instruction whose op lies in the lookahead window. Past the
    // window (default profile), weight loads run ahead in program order while they fit in free
    // buffer space (they never evict anything), so the memory stream does not wait for compute.
    const OpId head_op = head_ < n ? op_of(prog_.instrs[head_]) : 0;
    const uint64_t limit = static_cast<uint64_t>(head_op) + copts_.lookahead;
    uint32_t scanned = 0;
    for (auto it = ready_.begin(); it != ready_.end();) {
      const Instruction& in = prog_.instrs[*it];
      if (op_of(in) > limit) {
        if (reference_ || ++scanned > kPrefetchScan) break;
        if (in.opcode != Opcode::LOAD_W) {
          ++it;
          continue;
        }
        const uint32_t p = part_index(in.tensor, in.part);
        if (parts_[p].res == Residency::absent &&
            (buffer_of(in.tensor).free_bytes() < part_data_bytes_of(p) ||
             mask_.free_bytes() < part_mask_bytes_of(p)))
          break;
      }
      // A tile job that found no room or missing parts is tried again only once residency or
      // pins have changed since (its io lists can be long).
      if (is_compute(in.opcode) &&
          (tried_epoch_[in.id] == epoch_ || (wait_oldest_[in.id] && in.id != oldest_compute_))) {
        ++it;
        continue;
      }
      Block b = try_issue_one(in, now);
      blocked_[in.id] = b;
      if (is_compute(in.opcode) && b != Block::none && !reference_) tried_epoch_[in.id] = epoch_;
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
  uint64_t completion = now;
  charge_op_ = in.op;
  if (is_compute(in.opcode)) {
    const Op& op = prog_.ops[in.op];
    const uint32_t* io = io_.data() + io_begin_[in.id];
    const uint32_t* io_end = io_.data() + io_begin_[in.id + 1];
    // Inputs, and output parts already begun by an earlier tile job that were evicted since.
    // The oldest waiting tile job gathers: it holds (pins) what it has and fetches what it
    // lacks, so that fetching one part cannot evict another it needs (no thrashing); it resumes
    // where it stopped. Younger tile jobs (default profile) issue only when all their parts are
    // on chip, and otherwise wait until they are the oldest.
    auto needs = [&](uint32_t x) {
      const uint32_t p = x & ~kWrite;
      return !(x & kWrite) || (parts_[p].allocated && parts_[p].res != Residency::resident);
    };
    if (reference_) {
      for (const uint32_t* x = io; x != io_end; ++x)
        if (needs(*x))
          if (Block b = ensure_resident(*x & ~kWrite, now); b != Block::none) return b;
    } else if (in.id != oldest_compute_) {
      for (const uint32_t* x = io; x != io_end; ++x)
        if (needs(*x) && parts_[*x & ~kWrite].res != Residency::resident) {
          wait_oldest_[in.id] = 1;
          return Block::memory;
        }
      for (const uint32_t* x = io; x != io_end; ++x)
        if (needs(*x)) ensure_resident(*x & ~kWrite, now);  // LRU refresh, hit count
    } else {
      if (gatherer_ != in.id) {
        release_gather();
        gatherer_ = in.id;
        gather_cursor_ = 0;
      }
      gather_waiting_.erase(
          std::remove_if(gather_waiting_.begin(), gather_waiting_.end(),
                         [&](uint32_t p) { return parts_[p].res == Residency::resident; }),
          gather_waiting_.end());
      const uint32_t size = io_begin_[in.id + 1] - io_begin_[in.id];
      Block stop = Block::none;
      for (; gather_cursor_ < size; ++gather_cursor_) {
        const uint32_t x = io[gather_cursor_], p = x & ~kWrite;
        if (!needs(x) || held_[p]) continue;
        const Residency before = parts_[p].res;
        if (before == Residency::resident || before == Residency::loading) {
          if (before == Residency::resident) ensure_resident(p, now);
          pin(p);  // held: ours to drop when the job issues
          held_[p] = 1;
          gather_pins_.push_back(p);
          if (before == Residency::loading) gather_waiting_.push_back(p);
          continue;
        }
        const Block b = ensure_resident(p, now);  // reload (or wait for a spill to finish)
        if (parts_[p].res == Residency::loading) {
          internal_.back().keep_pin = true;  // the reload's pin is the hold
          held_[p] = 2;
          gather_pins_.push_back(p);
          gather_waiting_.push_back(p);
          continue;
        }
        stop = b;  // no room yet, or a spill in progress: resume here next time
        break;
      }
      if (stop != Block::none) return stop;
      if (!gather_waiting_.empty()) return Block::memory;
    }
    for (const uint32_t* x = io; x != io_end; ++x)  // pinned first: allocating the output
      if (!(*x & kWrite)) pin(*x);                  // must not evict them
    fresh_.clear();
    if (!reference_)  // output parts begun earlier: pinned before new ones may evict anything
      for (const uint32_t* x = io; x != io_end; ++x)
        if ((*x & kWrite) && parts_[*x & ~kWrite].allocated) pin(*x & ~kWrite);
    for (const uint32_t* x = io; x != io_end; ++x) {
      if (!(*x & kWrite)) continue;
      const uint32_t p = *x & ~kWrite;
      PartState& ps = parts_[p];
      if (ps.allocated) continue;  // reference: pinned from allocation until STORE_A
      if (!allocate(p, now, true)) {
        // Undo: unpin what this attempt pinned, free the parts it allocated.
        for (const uint32_t* y = io; y != io_end; ++y) {
          const uint32_t q = *y & ~kWrite;
          if (!(*y & kWrite)) {
            unpin(q);
          } else if (std::find(fresh_.begin(), fresh_.end(), q) != fresh_.end()) {
            unpin(q);
            const ResidentKey k = key_of(q);
            buffer_of(k.tensor).release(k, now);
            mask_.release(k, now);
            parts_[q].allocated = false;
            parts_[q].res = Residency::absent;
          } else if (!reference_ && parts_[q].allocated) {
            unpin(q);
          }
        }
        return Block::buffer_full;
      }
      ps.allocated = true;
      ps.res = Residency::resident;
      fresh_.push_back(p);
    }
    completion = reference_ ? dispatch_groups(in, now) : dispatch(in, now);
    if (in.id == gatherer_) release_gather();
    if (!reference_) wait_oldest_[in.id] = 0;
    compute_in_flight_ += 1;
    current_layer_ = op.layer;
    current_op_ = op.id;
  } else {
    const uint32_t p = part_index(in.tensor, in.part);
    PartState& ps = parts_[p];
    switch (in.opcode) {
      case Opcode::LOAD_W:
      case Opcode::LOAD_A:
        if (ps.res == Residency::resident) break;  // already on chip: nothing to move
        if (ps.res == Residency::loading || ps.res == Residency::spilling) return Block::memory;
        if (!allocate(p, now, true)) return Block::buffer_full;
        ps.res = Residency::loading;
        completion = transfer(in.opcode, p, now);
        if (OpRunStats* os = op_stats(in.op))
          os->load_bytes += part_data_bytes_of(p) + part_mask_bytes_of(p);
        break;
      case Opcode::STORE_A:
        completion = transfer(Opcode::STORE_A, p, now);
        break;
      case Opcode::STORE_M:
      case Opcode::SPILL:
        if (ps.res == Residency::in_memory) break;  // already written back by a spill
        if (ps.res != Residency::resident) {
          if (Block b = ensure_resident(p, now); b != Block::none) return b;
        }
        pin(p);
        completion = transfer(in.opcode, p, now);
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

ControlBlock::Block ControlBlock::ensure_resident(uint32_t part, uint64_t now) {
  PartState& s = parts_[part];
  const ResidentKey k = key_of(part);
  switch (s.res) {
    case Residency::resident:
      buffer_of(k.tensor).lookup(k, now);
      return Block::none;
    case Residency::loading:
    case Residency::spilling:
      return Block::memory;
    case Residency::absent:
      if (prog_.tensors[k.tensor].cls == TensorClass::activation)
        return Block::dependency;  // not produced yet (hand-written streams)
      [[fallthrough]];
    case Residency::in_memory: {
      // Reload: a spilled activation part (LOAD_A) or an evicted weight part (LOAD_W again).
      if (!allocate(part, now, true)) return Block::buffer_full;
      const Opcode op =
          prog_.tensors[k.tensor].cls == TensorClass::activation ? Opcode::LOAD_A : Opcode::LOAD_W;
      s.res = Residency::loading;
      const uint64_t done = transfer(op, part, now);
      const uint64_t bytes = part_data_bytes_of(part) + part_mask_bytes_of(part);
      stats_.reloads += 1;
      stats_.reload_bytes += bytes;
      if (OpRunStats* os = op_stats(charge_op_)) os->reload_bytes += bytes;
      internal_.push_back(Internal{part, op});
      events_.push(Event{done, static_cast<uint32_t>(internal_.size() - 1) | kInternal});
      return Block::memory;
    }
  }
  return Block::none;
}

bool ControlBlock::allocate(uint32_t part, uint64_t now, bool pin) {
  const ResidentKey key = key_of(part);
  const Tensor& ten = prog_.tensors[key.tensor];
  SramBuffer& buf = buffer_of(key.tensor);
  AllocResult r = buf.allocate(key, part_data_bytes_of(part), ten.name, now);
  if (!r.fitted) return false;
  AllocResult m = mask_.allocate(key, part_mask_bytes_of(part), ten.name, now);
  // Whatever the data buffer dropped is gone even if the mask does not fit.
  for (const auto& e : r.evicted) evicted(e.key, now, &buf);
  if (!m.fitted) {
    buf.release(key, now);
    return false;
  }
  for (const auto& e : m.evicted) evicted(e.key, now, &mask_);
  if (pin) {
    buf.pin(key);
    mask_.pin(key);
  }
  return true;
}

// A buffer dropped a part (data or mask) to make room: drop the other half, and write the data
// back to main memory if a later instruction still needs them.
void ControlBlock::evicted(const ResidentKey& key, uint64_t now, SramBuffer* from) {
  const uint32_t p = part_index(key.tensor, key.part);
  PartState& s = parts_[p];
  if (s.res != Residency::resident) return;  // its other half was dropped already
  SramBuffer& data_buf = buffer_of(key.tensor);
  if (from != &data_buf && data_buf.contains(key)) data_buf.release(key, now);
  if (from != &mask_ && mask_.contains(key)) mask_.release(key, now);
  if (needed_later(key)) {
    s.res = Residency::spilling;
    const uint64_t done = transfer(Opcode::SPILL, p, now);
    const uint64_t bytes = part_data_bytes_of(p) + part_mask_bytes_of(p);
    stats_.spills += 1;
    stats_.spill_bytes += bytes;
    if (OpRunStats* os = op_stats(charge_op_)) os->spill_bytes += bytes;
    internal_.push_back(Internal{p, Opcode::SPILL});
    events_.push(Event{done, static_cast<uint32_t>(internal_.size() - 1) | kInternal});
  } else {
    s.res = Residency::absent;  // dead data, or a weight that is reloaded from its home copy
    s.allocated = false;
  }
}

uint64_t ControlBlock::transfer(Opcode op, uint32_t part, uint64_t now) {
  const ResidentKey key = key_of(part);
  const Tensor& ten = prog_.tensors[key.tensor];
  xfer_.opcode = op;
  xfer_.tensor = key.tensor;
  xfer_.buffer =
      ten.cls == TensorClass::activation ? proto::Buffer::activation : proto::Buffer::weight;
  xfer_.data_bytes = part_data_bytes_of(part);
  xfer_.mask_bytes = part_mask_bytes_of(part);
  xfer_.elements = part_elements(ten, part_grid(ten), key.part);
  xfer_.sparsity = ten.sparsity;
  xfer_.sequential = true;
  const bool load = op == Opcode::LOAD_W || op == Opcode::LOAD_A;
  xfer_.contents = contents_ != nullptr;
  if (contents_) {  // functional: the part's own bytes, sized by its values
    // Stores send the image; loads size their array by it and are filled by the memory read.
    contents_->pack_part(key.tensor, key.part, load ? xfer_expect_ : xfer_data_, xfer_.data_bytes,
                         xfer_.mask_bytes);
    if (load) xfer_data_.assign(xfer_expect_.size(), 0);
  }
  // Data followed by its mask at the part's home address (a scratch data array: performance
  // mode; tlm/protocol.hpp).
  proto::set_transfer(
      xfer_gp_, !load, parts_[part].address,
      static_cast<unsigned>(std::min<uint64_t>(xfer_.data_bytes + xfer_.mask_bytes, 0xffffffffu)));
  if (contents_) xfer_gp_.set_data_ptr(xfer_data_.data());
  sc_core::sc_time delay = delay_until(now);
  dma_socket->b_transport(xfer_gp_, delay);
  if (xfer_gp_.is_response_error())
    throw std::runtime_error(fmt::format("{}: {} answered {} to {} of tensor '{}' part {} ({})",
                                         name(), dma_socket.name(), xfer_gp_.get_response_string(),
                                         to_string(op), ten.name, key.part,
                                         proto::describe(xfer_gp_)));
  // Weights never change: what main memory returns must be their image. (An activation part
  // may have been spilled before all its tiles were written; the data path keeps the values.)
  if (contents_ && op == Opcode::LOAD_W && xfer_data_ != xfer_expect_)
    throw std::logic_error(fmt::format(
        "{}: {} of tensor '{}' part {} read other bytes from main memory than the part holds",
        name(), to_string(op), ten.name, key.part));
  const uint64_t done = time_to_cycles(sc_core::sc_time_stamp() + delay, clock_mhz_);
  stats_.busy[static_cast<int>(EngineClass::dma)].push_back(BusyInterval{now, done, done - now});
  if (op == Opcode::STORE_M)
    if (OpRunStats* os = op_stats(charge_op_))
      os->store_bytes += xfer_.data_bytes + xfer_.mask_bytes;
  return std::max(done, now);
}

// Default profile: the whole instruction is one tile-job transaction. Its tiles are issued
// issue_width per cycle per (layer, head) slot, continuing from the slot's previous job, so
// splitting a block into more instructions changes nothing but the issue order.
uint64_t ControlBlock::dispatch(const Instruction& in, uint64_t now) {
  const Op& op = prog_.ops[in.op];
  const size_t slot = static_cast<size_t>(op.layer + 1) * slots_per_layer_ + (op.head + 1);
  const uint64_t width = static_cast<uint64_t>(cfg_.issue_width);
  const uint64_t start_slot = std::max(now * width, issue_cursor_[slot]);
  const uint64_t request = start_slot / width;
  issue_cursor_[slot] = start_slot + in.tile_count;
  describe_block_job(prog_, in, static_cast<uint32_t>(width), job_);  // tile_job_builder.hpp
  job_.busy_unit_cycles = 0;
  job_.operand_reads_saved = 0;
  job_.traffic = proto::JobTraffic{};
  const uint64_t completion = std::max(request, send_job(in, request));
  const proto::JobTraffic& t = job_.traffic;
  OpRunStats& os = stats_.ops[op.id];
  os.dense_macs += t.dense_macs;
  os.effectual_macs += t.effectual_macs;
  os.operand_bytes += t.operand_bytes;
  os.psum_bytes += t.psum_bytes;
  os.output_bytes += t.output_bytes;
  os.param_bytes += t.param_bytes;
  os.unit_energy_nj += t.unit_energy_nj;
  record_dispatch(in, std::min(t.start_cycle, completion), completion, job_.busy_unit_cycles);
  return completion;
}

// The annotated delay of a transaction requested at `cycle`: zero if that is already past (a
// blocking target let time pass during an earlier transaction of this step).
sc_core::sc_time ControlBlock::delay_until(uint64_t cycle) const {
  const sc_core::sc_time at = cycles_to_time(cycle, clock_mhz_), now = sc_core::sc_time_stamp();
  return at > now ? at - now : sc_core::SC_ZERO_TIME;
}

// One tile-job transaction to the engine of `in`, requested at `request`; its completion cycle.
uint64_t ControlBlock::send_job(const Instruction& in, uint64_t request) {
  auto& socket = in.opcode == Opcode::SOFTMAX     ? softmax_socket
                 : in.opcode == Opcode::LAYERNORM ? layer_norm_socket
                                                  : pe_socket;
  proto::set_tile_job(job_gp_);  // TLM_IGNORE_COMMAND with the TileJobExt (tlm/protocol.hpp)
  sc_core::sc_time delay = delay_until(request);
  socket->b_transport(job_gp_, delay);
  if (job_gp_.is_response_error())
    throw std::runtime_error(fmt::format(
        "{}: {} answered {} to the {} tile job of op '{}' (instruction {}, tiles {}..{})", name(),
        socket.name(), job_gp_.get_response_string(), to_string(in.opcode), prog_.ops[in.op].name,
        in.id, job_.first_tile, job_.first_tile + job_.tile_count - 1));
  stats_.dispatches += 1;
  return time_to_cycles(sc_core::sc_time_stamp() + delay, clock_mhz_);
}

// Bookkeeping of an issued tile-job instruction: tiles, the op's span, the engine's busy
// interval and in-flight count.
void ControlBlock::record_dispatch(const Instruction& in, uint64_t start, uint64_t completion,
                                   uint64_t busy_unit_cycles) {
  stats_.tiles[static_cast<int>(in.opcode)] += in.tile_count;
  OpRunStats& os = stats_.ops[in.op];
  os.first_cycle = std::min(os.first_cycle, start);
  os.last_cycle = std::max(os.last_cycle, completion);
  os.tiles += in.tile_count;
  const EngineClass ec = engine_of(in.opcode);
  stats_.busy[static_cast<int>(ec)].push_back(BusyInterval{start, completion, busy_unit_cycles});
  in_flight_[static_cast<int>(ec)] += 1;
}

// Reference profile: the published batching, one transaction per issue_width tiles.
uint64_t ControlBlock::dispatch_groups(const Instruction& in, uint64_t now) {
  const Op& op = prog_.ops[in.op];
  const size_t slot = static_cast<size_t>(op.layer + 1) * slots_per_layer_ + (op.head + 1);
  const uint64_t start = std::max(now, issue_cursor_[slot]);
  const uint64_t width = static_cast<uint64_t>(cfg_.issue_width);
  describe_group_job(prog_, in, job_);  // tile_job_builder.hpp
  uint64_t completion = start, busy = 0;
  const uint64_t end = in.first_tile + in.tile_count;
  const uint64_t group = copts_.batch_duplicates && op.head < 0 ? width + 1 : width;
  for (uint64_t first = in.first_tile; first < end; first += width) {
    job_.first_tile = first;
    job_.tile_count = std::min(group, end - first);
    job_.busy_unit_cycles = 0;
    job_.operand_reads_saved = 0;
    completion = std::max(completion, send_job(in, start + (first - in.first_tile) / width));
    busy += job_.busy_unit_cycles;
  }
  issue_cursor_[slot] = start + (in.tile_count + width - 1) / width;
  record_dispatch(in, start, completion, busy);
  return completion;
}

// ---------------------------------------------------------------- completion
void ControlBlock::complete(uint32_t id, uint64_t now) {
  ++epoch_;
  if (id & kInternal) {
    const Internal& x = internal_[id & ~kInternal];
    PartState& s = parts_[x.part];
    if (x.opcode == Opcode::SPILL) {
      if (s.res == Residency::spilling) s.res = Residency::in_memory;
    } else {
      s.res = Residency::resident;
      // A reload for the gathering tile job stays pinned while that job still holds it.
      if (!x.keep_pin || held_[x.part] != 2) unpin(x.part);
    }
    return;
  }
  const Instruction& in = prog_.instrs[id];
  if (is_compute(in.opcode)) {
    const uint32_t* io_end = io_.data() + io_begin_[id + 1];
    for (const uint32_t* x = io_.data() + io_begin_[id]; x != io_end; ++x) {
      if (*x & kWrite) {
        // Reference profile: an output is pinned from its allocation until its STORE_A; one
        // that is never stored (--reference-bugs unstored-outputs) until its op's last tile job.
        const uint32_t p = *x & ~kWrite;
        if (!reference_ || (!stored_[part_tensor_[p]] &&
                            in.first_tile + in.tile_count == prog_.ops[in.op].tile_count()))
          unpin(p);
        continue;
      }
      unpin(*x);
      PartState& ps = parts_[*x];
      ps.readers_left -= 1;
      // Default profile: a part nobody reads again (and that is not the model's output) is dead;
      // its buffer space is freed now rather than when something evicts it.
      if (!reference_ && ps.readers_left == 0 && !ps.output_pending &&
          ps.res == Residency::resident) {
        const ResidentKey k = key_of(*x);
        SramBuffer& buf = buffer_of(k.tensor);
        if (buf.pin_count(k) == 0 && mask_.pin_count(k) == 0) {
          buf.release(k, now);
          mask_.release(k, now);
          ps.res = Residency::absent;
          ps.allocated = false;
        }
      }
    }
    compute_in_flight_ -= 1;
    in_flight_[static_cast<int>(engine_of(in.opcode))] -= 1;
  } else {
    in_flight_[static_cast<int>(EngineClass::dma)] -= 1;
    const uint32_t p = part_index(in.tensor, in.part);
    PartState& ps = parts_[p];
    const ResidentKey key = key_of(p);
    switch (in.opcode) {
      case Opcode::LOAD_W:
      case Opcode::LOAD_A:
        if (ps.res == Residency::loading) {
          ps.res = Residency::resident;
          unpin(p);
        }
        break;
      case Opcode::STORE_A:  // the output was pinned from its allocation until now
        if (buffer_of(in.tensor).pin_count(key) > 0) unpin(p);
        break;
      case Opcode::STORE_M:
      case Opcode::SPILL:
        ps.output_pending = false;
        if (buffer_of(in.tensor).contains(key) && buffer_of(in.tensor).pin_count(key) > 0) unpin(p);
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
      why = fmt::format("waits for buffer space ({} bytes; pinned data fill the buffer)",
                        is_compute(in.opcode) ? prog_.tensors[in.tensor].data_bytes
                                              : part_data_bytes_of(part_index(in.tensor, in.part)));
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

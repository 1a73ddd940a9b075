#include "acceltran/hw/control/control_block.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <new>
#include <set>

#include "acceltran/compiler/parts.hpp"
#include "acceltran/hw/control/tile_job_builder.hpp"
#include "acceltran/hw/control/transfer_kind.hpp"

namespace acceltran {

using proto::cycles_to_time;
using proto::time_to_cycles;

namespace {
// Ready instructions past the lookahead window examined per issue pass for load run-ahead.
constexpr uint32_t kPrefetchScan = 4096;
// Loads past the lookahead window (run-ahead prefetch) start only while fewer DMA transfers
// than this are in flight: a prefetch queued far ahead would hold its (pinned) buffer space and
// delay every later demand transfer behind it.
constexpr uint32_t kRunAheadTransfers = 2;
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
      prog_(issue_program(prog, grouped_, group_first_)),
      program_instructions_(prog.instrs.size()),
      cfg_(cfg),
      copts_(copts),
      policy_(ControlPolicy::for_profile(prog.info.profile)),
      residency_(std::make_unique<ResidencyManager>(part_table(prog, copts.dense_homes), policy_,
                                                    activation, weight, mask,
                                                    static_cast<TransferPort&>(*this))),
      buffers_{&activation, &weight, &mask},
      memory_bytes_per_cycle_(memory_bytes_per_cycle(cfg, tech)),
      clock_mhz_(tech.clock_mhz),
      dispatch_tile_job_(policy_.one_transaction_per_instruction ? &ControlBlock::dispatch
                                                                 : &ControlBlock::dispatch_groups) {
  const size_t instruction_count = prog_.instrs.size();
  state_.assign(instruction_count, State::waiting);
  blocked_.assign(instruction_count, Block::none);
  stats_.ops.resize(prog_.ops.size());
  build_issue_slots();
  build_operand_lists();
  build_part_uses();
  residency_->set_memory_bytes_per_cycle(memory_bytes_per_cycle_);
  churn_limit_ = std::max<uint64_t>(100000, 4 * uint64_t{residency_->part_count()});
  wait_oldest_.assign(instruction_count, 0);
  tried_epoch_.assign(instruction_count, ~uint64_t{0});
  build_dependency_graph();
  attach_payload_extensions();
  SC_THREAD(run);
}

// Main memory's peak bytes per accelerator cycle (technology.yaml main_memory.bandwidth_gbps).
double ControlBlock::memory_bytes_per_cycle(const AcceleratorConfig& cfg, const Technology& tech) {
  const auto found = tech.main_memory_bandwidth_gbps.find(cfg.main_memory.bandwidth_class);
  if (found == tech.main_memory_bandwidth_gbps.end()) return 0;
  return found->second * 1e9 / (tech.clock_mhz * 1e6);
}

// The program the control block issues: `prog` with each block's tile-job instructions as one
// when the profile issues blocks whole (issue_groups.hpp), else `prog` itself.
const Program& ControlBlock::issue_program(const Program& prog, Program& grouped,
                                           std::vector<InstrId>& group_first) {
  const bool whole_blocks = ControlPolicy::for_profile(prog.info.profile).issue_blocks_whole;
  return whole_blocks && coalesce_issue_groups(prog, grouped, group_first) ? grouped : prog;
}

ControlBlock::~ControlBlock() {
  job_gp_.clear_extension(&job_);
  xfer_gp_.clear_extension(&xfer_);
}

// One issue slot per (layer, head), plus one for ops outside the layers or heads (-1).
void ControlBlock::build_issue_slots() {
  int layers = 0, heads = 0;
  for (const auto& op : prog_.ops) {
    layers = std::max(layers, op.layer + 1);
    heads = std::max(heads, op.head + 1);
  }
  slots_per_layer_ = heads + 1;
  issue_cursor_.assign(static_cast<size_t>(layers + 1) * slots_per_layer_, 0);
}

// The parts each tile job reads and writes (its block's boxes), who reads each part, and which
// parts are final outputs or stored by a STORE_A.
void ControlBlock::build_operand_lists() {
  const size_t instruction_count = prog_.instrs.size();
  operands_begin_.assign(instruction_count + 1, 0);
  auto operand = [this](TensorId tensor, uint32_t part, OperandAccess access) {
    const uint32_t index = residency_->part_index(tensor, part);
    return OperandRef{index, residency_->info(index).buffer, access};
  };
  for (const auto& in : prog_.instrs) {
    operands_begin_[in.id] = static_cast<uint32_t>(operands_.size());
    if (in.opcode == Opcode::STORE_A) residency_->mark_stored(in.tensor);
    if (in.opcode == Opcode::STORE_M)
      residency_->expect_output(residency_->part_index(in.tensor, in.part));
    if (!is_compute(in.opcode)) continue;
    const Op& op = prog_.ops[in.op];
    const BlockBox box = tile_range_box(block_box(op, in.block), prog_.info.loop_order,
                                        in.first_tile, in.tile_count);
    const auto first = operands_.end() - operands_.begin();
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      const TensorId tensor = op.inputs[k];
      for_each_part(
          part_grid(prog_.tensors[tensor]), input_box(prog_, op, k, box),
          [&](uint32_t part) { operands_.push_back(operand(tensor, part, OperandAccess::read)); });
    }
    // Each input part once, in part order.
    std::sort(operands_.begin() + first, operands_.end(),
              [](const OperandRef& a, const OperandRef& b) { return a.part < b.part; });
    operands_.erase(
        std::unique(operands_.begin() + first, operands_.end(),
                    [](const OperandRef& a, const OperandRef& b) { return a.part == b.part; }),
        operands_.end());
    for (auto read = operands_.begin() + first; read != operands_.end(); ++read)
      residency_->add_reader(read->part);
    for_each_part(part_grid(prog_.tensors[op.output]), output_box(prog_, op, box),
                  [&](uint32_t part) {
                    operands_.push_back(operand(op.output, part, OperandAccess::write));
                  });
  }
  operands_begin_[instruction_count] = static_cast<uint32_t>(operands_.size());
}

// The instructions using each part, in program order (the residency manager's next-use
// eviction): tile jobs use their operands, memory instructions their part.
void ControlBlock::build_part_uses() {
  const uint32_t part_count = residency_->part_count();
  PartUses uses;
  uses.begin.assign(part_count + 1, 0);
  auto for_each_use = [this](auto&& use) {
    for (const auto& in : prog_.instrs) {
      if (is_compute(in.opcode)) {
        for (const OperandRef& operand : operands_of(in.id)) use(operand.part, in.id);
      } else if (in.tensor != kNone) {
        use(residency_->part_index(in.tensor, in.part), in.id);
      }
    }
  };
  for_each_use([&](uint32_t part, uint32_t) { uses.begin[part + 1] += 1; });
  for (uint32_t part = 0; part < part_count; ++part) uses.begin[part + 1] += uses.begin[part];
  uses.instructions.resize(uses.begin[part_count]);
  std::vector<uint32_t> next(uses.begin.begin(), uses.begin.end() - 1);
  for_each_use([&](uint32_t part, uint32_t id) { uses.instructions[next[part]++] = id; });
  uses.position = expected_positions();
  residency_->set_uses(std::move(uses), prog_.instrs.size());
}

// When each instruction is expected to run: its depth in the dependency graph (independent
// instructions, e.g. the attention heads, run side by side whatever their program order), then
// its program order.
std::vector<uint64_t> ControlBlock::expected_positions() const {
  std::vector<uint64_t> depth(prog_.instrs.size(), 0);
  for (const auto& in : prog_.instrs)
    for (auto dep = prog_.deps_begin(in); dep != prog_.deps_end(in); ++dep)
      if (*dep < in.id) depth[in.id] = std::max(depth[in.id], depth[*dep] + 1);
  for (const auto& in : prog_.instrs) depth[in.id] = depth[in.id] << 32 | in.id;
  return depth;
}

// Reverse dependencies (CSR) and the number of unfinished dependencies of each instruction.
void ControlBlock::build_dependency_graph() {
  const size_t instruction_count = prog_.instrs.size();
  deps_left_.assign(instruction_count, 0);
  std::vector<uint32_t> offsets(instruction_count + 1, 0);
  for (const auto& in : prog_.instrs)
    for (auto dep = prog_.deps_begin(in); dep != prog_.deps_end(in); ++dep) {
      if (*dep >= instruction_count || *dep == in.id)
        throw InputError(fmt::format("instruction {} depends on {}, which is {}", in.id, *dep,
                                     *dep == in.id ? "itself" : "not in the stream"));
      offsets[*dep + 1] += 1;
      deps_left_[in.id] += 1;
    }
  for (size_t i = 0; i < instruction_count; ++i) offsets[i + 1] += offsets[i];
  rdeps_begin_ = offsets;
  rdeps_.assign(offsets[instruction_count], 0);
  for (const auto& in : prog_.instrs)
    for (auto dep = prog_.deps_begin(in); dep != prog_.deps_end(in); ++dep)
      rdeps_[offsets[*dep]++] = in.id;
  for (size_t i = 0; i < instruction_count; ++i)
    if (deps_left_[i] == 0) ready_.insert(static_cast<uint32_t>(i));
}

void ControlBlock::attach_payload_extensions() {
  job_gp_.set_extension(&job_);
  job_gp_.set_command(tlm::TLM_WRITE_COMMAND);
  job_gp_.set_address(0);
  job_gp_.set_data_ptr(nullptr);
  job_gp_.set_data_length(0);
  xfer_gp_.set_extension(&xfer_);
  xfer_gp_.set_data_ptr(nullptr);
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

// Every scoreboard and residency state the constructor and a run set, as at elaboration.
void ControlBlock::reset_for_next_run() {
  // The manager holds references to the buffers: built again over the emptied ones.
  residency_ = std::make_unique<ResidencyManager>(part_table(prog_, copts_.dense_homes), policy_,
                                                  *buffers_[0], *buffers_[1], *buffers_[2],
                                                  static_cast<TransferPort&>(*this));
  residency_->set_memory_bytes_per_cycle(memory_bytes_per_cycle_);
  const size_t instruction_count = prog_.instrs.size();
  state_.assign(instruction_count, State::waiting);
  blocked_.assign(instruction_count, Block::none);
  stats_ = ControlStats{};
  stats_.ops.resize(prog_.ops.size());
  operands_.clear();
  ready_.clear();
  build_issue_slots();
  build_operand_lists();
  build_part_uses();
  wait_oldest_.assign(instruction_count, 0);
  tried_epoch_.assign(instruction_count, ~uint64_t{0});
  build_dependency_graph();
  churn_ = 0;
  outputs_blocked_at_.clear();
  oldest_compute_ = 0;
  oldest_compute_block_ = Block::none;
  internal_.clear();
  events_ = {};
  done_ = issued_total_ = completed_instructions_ = 0;
  head_ = next_mem_ = next_compute_ = 0;
  in_flight_ = {};
  compute_in_flight_ = 0;
  current_layer_ = -1;
  current_op_ = 0;
  charge_op_ = kNone;
}

// ---------------------------------------------------------------- main loop
// One stream, or (wait_for_start) one per start().
void ControlBlock::run() {
  do {
    if (copts_.wait_for_start) sc_core::wait(start_);
    run_stream();
  } while (copts_.wait_for_start);
}

void ControlBlock::run_stream() {
  const uint64_t instruction_count = prog_.instrs.size();
  uint64_t now = time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
  while (done_ < instruction_count) {
    try_issue(now);
    if (events_.empty() && !residency_->unrestricted_eviction()) {
      // Next-use eviction keeps data needed sooner than what is placed; when that leaves
      // nothing able to issue, allocations may evict any unpinned data until the next
      // completion.
      residency_->set_unrestricted_eviction(true);
      try_issue(now);
    }
    if (events_.empty()) {
      stats_.deadlock = deadlock_report(now);
      break;
    }
    const uint64_t next = events_.top().cycle;
    if (next > now) {
      if (compute_in_flight_ == 0) count_stall(next - now);
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
      const uint32_t id = events_.top().id;
      events_.pop();
      complete(id, now);
      churn_ = id & kInternal ? churn_ + 1 : 0;
      if (!(id & kInternal)) residency_->set_unrestricted_eviction(false);
    }
    if (churn_ > churn_limit_) {  // spills and reloads go on, but nothing completes: livelock
      stats_.deadlock = fmt::format(
          "no progress: {} spills and reloads since the last instruction completed (the "
          "buffers thrash); {}",
          churn_, deadlock_report(now));
      break;
    }
    if (on_event) on_event(now);
    if (copts_.progress) copts_.progress(completed_instructions_, program_instructions_, now);
  }
  stats_.end_cycle = now;
  stats_.evictions = residency_->evictions();
  stats_.in_place_parts = residency_->in_place_parts();
  stats_.finished = done_ == instruction_count;
  if (on_event) on_event(now);
  run_ended_.notify(sc_core::SC_ZERO_TIME);
}

// No tile job in flight for `gap_cycles`: charged to the reason the oldest waiting one waits.
void ControlBlock::count_stall(uint64_t gap_cycles) {
  switch (oldest_compute_block_) {
    case Block::memory:
      stats_.stall_memory_cycles += gap_cycles;
      break;
    case Block::buffer_full:
      stats_.stall_buffer_full_cycles += gap_cycles;
      break;
    case Block::dependency:
      stats_.stall_dependency_cycles += gap_cycles;
      break;
    case Block::none:
      break;
  }
}

// ---------------------------------------------------------------- issue
void ControlBlock::try_issue(uint64_t now) {
  const uint32_t instruction_count = static_cast<uint32_t>(prog_.instrs.size());
  while (head_ < instruction_count && state_[head_] == State::done) ++head_;
  advance_oldest_compute();
  // The gatherer is always the oldest waiting tile job: a new oldest one starts afresh.
  if (residency_->gatherer() != oldest_compute_) residency_->release_gather();
  if (copts_.in_order)
    issue_in_order(now);
  else
    issue_ready(now);
  advance_oldest_compute();
  note_oldest_compute_block();
}

void ControlBlock::advance_oldest_compute() {
  const uint32_t instruction_count = static_cast<uint32_t>(prog_.instrs.size());
  while (oldest_compute_ < instruction_count &&
         (!is_compute(prog_.instrs[oldest_compute_].opcode) ||
          state_[oldest_compute_] != State::waiting))
    ++oldest_compute_;
}

// Two in-order streams: memory instructions and tile jobs, each issued in program order.
void ControlBlock::issue_in_order(uint64_t now) {
  const uint32_t instruction_count = static_cast<uint32_t>(prog_.instrs.size());
  for (bool progress = true; progress;) {
    progress = false;
    while (next_mem_ < instruction_count &&
           (!is_memory(prog_.instrs[next_mem_].opcode) || state_[next_mem_] != State::waiting))
      ++next_mem_;
    while (next_compute_ < instruction_count && (!is_compute(prog_.instrs[next_compute_].opcode) ||
                                                 state_[next_compute_] != State::waiting))
      ++next_compute_;
    for (uint32_t* stream : {&next_mem_, &next_compute_}) {
      if (*stream >= instruction_count) continue;
      const Instruction& in = prog_.instrs[*stream];
      if (!deps_done(in)) {
        blocked_[in.id] = Block::dependency;
        continue;
      }
      const Block block = try_issue_one(in, now);
      blocked_[in.id] = block;
      if (block == Block::none) progress = true;
    }
  }
}

// Dependency-driven: any ready instruction whose op lies in the lookahead window. Past the
// window (when the policy lets loads run ahead), weight loads run ahead in program order while
// they fit in free buffer space (they never evict anything), so the memory stream does not wait
// for compute.
void ControlBlock::issue_ready(uint64_t now) {
  const uint32_t instruction_count = static_cast<uint32_t>(prog_.instrs.size());
  const OpId head_op = head_ < instruction_count ? op_of(prog_.instrs[head_]) : 0;
  const uint64_t last_window_op = static_cast<uint64_t>(head_op) + copts_.lookahead;
  uint32_t scanned = 0;
  for (auto it = ready_.begin(); it != ready_.end();) {
    const Instruction& in = prog_.instrs[*it];
    if (op_of(in) > last_window_op) {
      if (!policy_.loads_run_ahead || ++scanned > kPrefetchScan) break;
      if (in.opcode != Opcode::LOAD_W) {
        ++it;
        continue;
      }
      if (!load_fits_free_space(in) ||
          in_flight_[static_cast<int>(EngineClass::dma)] >= kRunAheadTransfers)
        break;
    }
    // A tile job that found no room or missing parts is tried again only once residency or
    // pins have changed since (its operand lists can be long).
    if (is_compute(in.opcode) &&
        (tried_epoch_[in.id] == residency_->epoch() ||
         (wait_oldest_[in.id] && in.id != oldest_compute_) || outputs_still_blocked(in.id))) {
      ++it;
      continue;
    }
    const Block block = try_issue_one(in, now);
    blocked_[in.id] = block;
    if (is_compute(in.opcode) && block != Block::none && policy_.oldest_gathers)
      tried_epoch_[in.id] = residency_->epoch();
    it = block == Block::none ? ready_.erase(it) : std::next(it);
  }
}

// A tile job whose outputs found no room waits until a buffer's pinned bytes fall (nothing else
// makes room: evictions only turn unpinned bytes into free ones).
bool ControlBlock::outputs_still_blocked(uint32_t job) const {
  const auto found = outputs_blocked_at_.find(job);
  if (found == outputs_blocked_at_.end()) return false;
  const ResidencyManager::PerBufferBytes now_pinned = residency_->pinned_bytes();
  for (size_t buffer = 0; buffer < now_pinned.size(); ++buffer)
    if (now_pinned[buffer] < found->second[buffer]) return false;
  return true;
}

// A run-ahead load goes only into free space (on chip already: nothing to fit).
bool ControlBlock::load_fits_free_space(const Instruction& in) {
  const uint32_t part = residency_->part_index(in.tensor, in.part);
  const PartInfo& info = residency_->info(part);
  return residency_->residency(part) != Residency::absent ||
         (residency_->data_buffer(part).free_bytes() >= info.data_bytes &&
          residency_->mask_buffer().free_bytes() >= info.mask_bytes);
}

// Why the oldest waiting tile job waits (for stall accounting).
void ControlBlock::note_oldest_compute_block() {
  oldest_compute_block_ = Block::none;
  if (oldest_compute_ >= prog_.instrs.size()) return;
  const Instruction& in = prog_.instrs[oldest_compute_];
  if (deps_done(in)) {
    oldest_compute_block_ = blocked_[in.id] == Block::none ? Block::dependency : blocked_[in.id];
    return;
  }
  oldest_compute_block_ = Block::dependency;
  for (auto dep = prog_.deps_begin(in); dep != prog_.deps_end(in); ++dep)
    if (state_[*dep] != State::done && is_memory(prog_.instrs[*dep].opcode) &&
        prog_.instrs[*dep].opcode != Opcode::STORE_A)
      oldest_compute_block_ = Block::memory;
}

OpId ControlBlock::op_of(const Instruction& in) const {
  return in.op == kNone ? static_cast<OpId>(prog_.ops.size()) : in.op;
}

ControlBlock::Block ControlBlock::try_issue_one(const Instruction& in, uint64_t now) {
  uint64_t completion = now;
  charge_op_ = in.op;
  const Block block = is_compute(in.opcode) ? issue_tile_job(in, now, &completion)
                                            : issue_memory_instruction(in, now, &completion);
  if (block != Block::none) return block;
  state_[in.id] = State::issued;
  residency_->note_issued(in.id);
  // A memory instruction may not pin its part (already on chip): its next use moved on.
  if (!is_compute(in.opcode) && in.tensor != kNone)
    residency_->refresh(residency_->part_index(in.tensor, in.part), now);
  issued_total_ += members(in.id);
  stats_.issued[static_cast<int>(in.opcode)] += members(in.id);
  events_.push(Event{completion, in.id});
  return Block::none;
}

ControlBlock::Block ControlBlock::issue_tile_job(const Instruction& in, uint64_t now,
                                                 uint64_t* completion) {
  const OperandSpan operands = operands_of(in.id);
  if (const Block block = bring_operands_on_chip(in, operands, now); block != Block::none)
    return block;
  // Inputs pinned, outputs allocated: nothing the job uses can be evicted while it runs.
  const bool elementwise = in.opcode == Opcode::EWISE || in.opcode == Opcode::ACT;
  if (const Block block = residency_->pin_and_allocate_outputs(operands, now, elementwise);
      block != Block::none) {
    // Waiting for room that running tile jobs give back: tried again after any change.
    if (!residency_->waits_for_room(operands))
      outputs_blocked_at_[in.id] = residency_->pinned_bytes();
    return block;
  }
  outputs_blocked_at_.erase(in.id);
  *completion = (this->*dispatch_tile_job_)(in, now);
  residency_->note_running_until(operands, *completion);
  if (in.id == residency_->gatherer()) residency_->release_gather();
  if (policy_.oldest_gathers) wait_oldest_[in.id] = 0;
  compute_in_flight_ += 1;
  const Op& op = prog_.ops[in.op];
  current_layer_ = op.layer;
  current_op_ = op.id;
  return Block::none;
}

// The oldest waiting tile job gathers its operands (holds what it has, fetches what it lacks),
// so that fetching one part cannot evict another it needs. Younger ones issue only when all
// their operands are on chip, and otherwise wait until they are the oldest: two jobs fetching
// at once would evict each other's parts.
ControlBlock::Block ControlBlock::bring_operands_on_chip(const Instruction& in,
                                                         OperandSpan operands, uint64_t now) {
  if (!policy_.oldest_gathers) return residency_->fetch_in_order(operands, now);
  if (in.id == oldest_compute_) return residency_->gather(in.id, operands, now);
  if (residency_->all_on_chip(operands, now)) return Block::none;
  wait_oldest_[in.id] = 1;
  return Block::memory;
}

ControlBlock::Block ControlBlock::issue_memory_instruction(const Instruction& in, uint64_t now,
                                                           uint64_t* completion) {
  switch (in.opcode) {
    case Opcode::LOAD_W:
    case Opcode::LOAD_A: {
      const uint32_t part = residency_->part_index(in.tensor, in.part);
      bool on_chip = false;
      if (const Block block = residency_->begin_load(part, now, &on_chip); block != Block::none)
        return block;
      if (on_chip) break;  // nothing to move
      *completion = transfer(in.opcode, part, now);
      if (OpRunStats* os = op_stats(in.op)) os->load_bytes += residency_->info(part).bytes();
      break;
    }
    case Opcode::STORE_A:
      *completion = transfer(Opcode::STORE_A, residency_->part_index(in.tensor, in.part), now);
      break;
    case Opcode::STORE_M:
    case Opcode::SPILL: {
      const uint32_t part = residency_->part_index(in.tensor, in.part);
      bool in_memory = false;
      if (const Block block = residency_->begin_write_back(part, now, &in_memory);
          block != Block::none)
        return block;
      if (!in_memory) *completion = transfer(in.opcode, part, now);
      break;
    }
    default:
      break;
  }
  in_flight_[static_cast<int>(EngineClass::dma)] += 1;
  return Block::none;
}

// A spill or reload started by the residency manager: moved now, completed as an event.
void ControlBlock::start_transfer(Opcode opcode, uint32_t part, uint64_t now, bool keep_pin) {
  const uint64_t done = transfer(opcode, part, now);
  const uint64_t bytes = residency_->info(part).bytes();
  OpRunStats* os = op_stats(charge_op_);
  if (opcode == Opcode::SPILL) {
    stats_.spills += 1;
    stats_.spill_bytes += bytes;
    if (os) os->spill_bytes += bytes;
  } else {
    stats_.reloads += 1;
    stats_.reload_bytes += bytes;
    if (os) os->reload_bytes += bytes;
  }
  internal_.push_back(RunTimeTransfer{part, opcode, keep_pin});
  events_.push(Event{done, static_cast<uint32_t>(internal_.size() - 1) | kInternal});
}

uint64_t ControlBlock::transfer(Opcode op, uint32_t part, uint64_t now) {
  const ResidentKey key = residency_->key_of(part);
  const PartInfo& info = residency_->info(part);
  const Tensor& ten = prog_.tensors[key.tensor];
  xfer_.kind = transfer_kind(op);
  xfer_.tensor = key.tensor;
  xfer_.buffer = info.buffer;
  xfer_.data_bytes = info.data_bytes;
  xfer_.mask_bytes = info.mask_bytes;
  xfer_.elements = part_elements(ten, part_grid(ten), key.part);
  xfer_.sparsity = ten.sparsity;
  xfer_.sequential = true;
  const bool load = proto::is_load(xfer_.kind);
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
      xfer_gp_, !load, info.address,
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
        program_id(in.id), job_.first_tile, job_.first_tile + job_.tile_count - 1));
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
  residency_->note_change();
  if (id & kInternal) {
    complete_run_time_transfer(internal_[id & ~kInternal]);
    return;
  }
  const Instruction& in = prog_.instrs[id];
  if (is_compute(in.opcode))
    complete_tile_job(in, now);
  else
    complete_memory_instruction(in);
  state_[id] = State::done;
  done_ += 1;
  completed_instructions_ += members(id);
  stats_.completed[static_cast<int>(in.opcode)] += members(id);
  release_dependents(id);
}

void ControlBlock::complete_run_time_transfer(const RunTimeTransfer& transfer) {
  if (transfer.opcode == Opcode::SPILL)
    residency_->spill_done(transfer.part);
  else
    residency_->reload_done(transfer.part, transfer.keep_pin);
}

void ControlBlock::complete_tile_job(const Instruction& in, uint64_t now) {
  const bool last_job_of_op = in.first_tile + in.tile_count == prog_.ops[in.op].tile_count();
  residency_->finish_tile_job(operands_of(in.id), last_job_of_op, now);
  compute_in_flight_ -= 1;
  in_flight_[static_cast<int>(engine_of(in.opcode))] -= 1;
}

void ControlBlock::complete_memory_instruction(const Instruction& in) {
  in_flight_[static_cast<int>(EngineClass::dma)] -= 1;
  switch (in.opcode) {
    case Opcode::LOAD_W:
    case Opcode::LOAD_A:
      residency_->load_done(residency_->part_index(in.tensor, in.part));
      break;
    case Opcode::STORE_A:
      residency_->store_done(residency_->part_index(in.tensor, in.part));
      break;
    case Opcode::STORE_M:
    case Opcode::SPILL:
      residency_->write_back_done(residency_->part_index(in.tensor, in.part));
      break;
    default:
      break;
  }
}

void ControlBlock::release_dependents(uint32_t id) {
  for (uint32_t k = rdeps_begin_[id]; k < rdeps_begin_[id + 1]; ++k) {
    const uint32_t dependent = rdeps_[k];
    if (--deps_left_[dependent] == 0) ready_.insert(dependent);
  }
}

// ---------------------------------------------------------------- deadlock
std::string ControlBlock::deadlock_report(uint64_t now) const {
  std::string out = fmt::format(
      "deadlock at cycle {}: {} of {} instructions completed, nothing in flight and nothing can "
      "issue; oldest pending instructions:",
      now, completed_instructions_, program_instructions_);
  int shown = 0;
  for (const auto& in : prog_.instrs) {
    if (state_[in.id] != State::waiting) continue;
    std::string why;
    std::vector<std::string> waits;
    for (auto d = prog_.deps_begin(in); d != prog_.deps_end(in); ++d)
      if (state_[*d] != State::done)
        waits.push_back(
            fmt::format("{} {}", program_last_id(*d), to_string(prog_.instrs[*d].opcode)));
    if (!waits.empty()) {
      why = "waits for instruction";
      for (size_t k = 0; k < waits.size() && k < 4; ++k) why += (k ? ", " : " ") + waits[k];
      if (waits.size() > 4) why += fmt::format(" (+{} more)", waits.size() - 4);
    } else if (blocked_[in.id] == Block::buffer_full) {
      const uint64_t bytes =
          is_compute(in.opcode)
              ? prog_.tensors[in.tensor].data_bytes
              : residency_->info(residency_->part_index(in.tensor, in.part)).data_bytes;
      why = fmt::format("waits for buffer space ({} bytes; pinned data fill the buffer)", bytes);
    } else if (!copts_.in_order && op_of(in) > op_of(prog_.instrs[head_]) + copts_.lookahead) {
      why = "outside the lookahead window";
    } else {
      why = "waits for its stream's earlier instructions";
    }
    out += fmt::format("\n  instruction {} {} ({}): {}", program_id(in.id), to_string(in.opcode),
                       prog_.tensors[in.tensor].name, why);
    if (++shown == 8) break;
  }
  return out;
}

}  // namespace acceltran

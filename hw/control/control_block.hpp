// The control block: executes a compiled instruction stream (compiler/isa.hpp).
//
// It keeps a scoreboard of dependencies and instruction states, has its residency manager
// (residency.hpp) keep the parts it needs on chip, issues memory instructions to the DMA and
// tile jobs to the PE array, softmax and layer-norm engines over TLM sockets, with many in
// flight, and detects completion. Timing follows tlm/protocol.hpp: every target returns the
// completion time of a request at once, so the control block's thread sleeps from one
// completion to the next (event-driven; it never ticks the clock).
//
// Scheduling (docs/architecture.md, "The control block"; the profile's rules are a
// ControlPolicy, control_policy.hpp, chosen once at elaboration):
//  * default: dependency-driven out-of-order issue inside a lookahead window of instructions
//    past the oldest unfinished one — weights of upcoming ops are prefetched while the current
//    op computes, bounded by free buffer space;
//  * in_order (reference profile): the published in-order memory stream and in-order compute
//    stream, without its bugs (every tile issued once, one softmax module per job).
//  * Tile jobs are issued issue_width tiles per cycle per attention head; an instruction is one
//    TLM transaction (reference profile: one per issue_width tiles, the published batching).
//    Default profile: the consecutive instructions of one block (--tiles-per-instruction
//    pieces) are put back together and issue as one (issue_groups.hpp), so N changes only the
//    instruction counts.
//  * Residency (residency.hpp) is per part of a tensor (compiler/parts.hpp: a row panel of an
//    activation, a block of a weight): parts are allocated in the buffers at load / first write,
//    pinned while an issued instruction uses them; a full buffer evicts unpinned parts (next use,
//    LRU or FIFO); a live activation part that is evicted is spilled to main memory and reloaded
//    (LOAD_A) before its next use. Default profile: a tile job's outputs go into the activation
//    buffer as its tiles complete (no STORE_A); reference profile: the output is pinned until the
//    op's STORE_A.
//  * Watchdog: when nothing can issue and nothing is in flight before the stream ends, the run
//    stops with a deadlock report naming the oldest pending instructions and what they wait for.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <systemc>
#include <unordered_map>
#include <vector>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/compiler/issue_groups.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/compute/datapath.hpp"
#include "acceltran/hw/control/control_policy.hpp"
#include "acceltran/hw/control/residency.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

struct ControlOptions {
  bool in_order = false;     // reference profile scheduling
  uint32_t lookahead = 256;  // instructions past the oldest unfinished one that may issue
  // Reference profile, published bug (simulator.py get_op_list / update_op_idx), when asked for:
  // a batch of compute tiles outside the attention heads takes issue_width + 1 tiles of its op
  // while the index advances by issue_width, so the last tile of every batch but the op's last
  // is issued twice. Set at elaboration from SimOptions::published (--reference-bugs).
  bool batch_duplicates = false;
  // Functional runs: every part's home in main memory is reserved at its dense size (its
  // zero-free image fits whatever its measured sparsity).
  bool dense_homes = false;
  std::function<void(uint64_t done, uint64_t total, uint64_t cycle)> progress;  // may be empty
  // A programmable top (docs/architecture.md, "Driving the accelerator from a CPU"): the stream
  // issues nothing until start() is called.
  bool wait_for_start = false;
};

// One busy interval of an engine class, for the timeline (start, end, unit-cycles).
struct BusyInterval {
  uint64_t start_cycle = 0, end_cycle = 0, unit_cycles = 0;
};

enum class EngineClass { lanes, softmax, layer_norm, dma };
constexpr int kEngineClasses = 4;

// Per-op figures of a run (report.json "ops", ops.csv).
struct OpRunStats {
  uint64_t first_cycle = ~uint64_t{0}, last_cycle = 0;
  uint64_t tiles = 0, dense_macs = 0, effectual_macs = 0;
  uint64_t operand_bytes = 0, psum_bytes = 0, output_bytes = 0, param_bytes = 0;
  uint64_t load_bytes = 0, spill_bytes = 0, reload_bytes = 0, store_bytes = 0;
  double unit_energy_nj = 0;
};

struct ControlStats {
  std::array<uint64_t, kOpcodeCount> issued{}, completed{};  // program instructions
  std::array<uint64_t, kOpcodeCount> tiles{};                // tiles dispatched per opcode
  uint64_t dispatches = 0;                                   // TLM tile-job transactions
  uint64_t spills = 0, spill_bytes = 0;                      // run-time SPILL transfers
  uint64_t reloads = 0, reload_bytes = 0;                    // run-time LOAD_A / LOAD_W re-loads
  // Cycles in which no tile job was in flight, by the reason the oldest waiting tile job had.
  uint64_t stall_memory_cycles = 0, stall_dependency_cycles = 0, stall_buffer_full_cycles = 0;
  uint64_t end_cycle = 0;
  bool finished = false;
  std::string deadlock;  // non-empty: the deadlock report
  std::array<std::vector<BusyInterval>, kEngineClasses> busy;
  std::vector<OpRunStats> ops;  // per op of the program
  // Evictions and the reloads they caused, per buffer (activation, weight, mask) and cause.
  std::array<BufferEvictions, 3> evictions{};
  uint64_t in_place_parts = 0;  // activation parts overwritten in place by element-wise outputs
};

class ControlBlock : public sc_core::sc_module, private TransferPort {
 public:
  tlm_utils::simple_initiator_socket<ControlBlock> pe_socket;
  tlm_utils::simple_initiator_socket<ControlBlock> softmax_socket;
  tlm_utils::simple_initiator_socket<ControlBlock> layer_norm_socket;
  tlm_utils::simple_initiator_socket<ControlBlock> dma_socket;

  SC_HAS_PROCESS(ControlBlock);
  ~ControlBlock() override;
  ControlBlock(sc_core::sc_module_name name, const Program& prog, const AcceleratorConfig& cfg,
               const Technology& tech, const ControlOptions& copts, SramBuffer& activation,
               SramBuffer& weight, SramBuffer& mask);

  const ControlStats& stats() const { return stats_; }
  // The program as issued: one instruction per issue group when the policy issues blocks whole
  // (docs/isa.md, "Issue groups"), so its dependencies do not depend on --tiles-per-instruction.
  const Program& issued_program() const { return prog_; }
  // Functional runs: transfers carry the parts' contents (the data path packs them; a load's
  // bytes read from main memory are checked against them).
  void set_contents(Datapath* d) { contents_ = d; }
  // Main-memory home of part `part` of tensor `t`.
  uint64_t part_address(TensorId t, uint32_t part) const {
    return residency_->info(residency_->part_index(t, part)).address;
  }
  // Trace hooks: current state for sc_signals (updated at every event).
  // Program instructions issued and completed (the pieces of a block count one each).
  uint64_t issued_total() const { return issued_total_; }
  uint64_t completed_total() const { return completed_instructions_; }
  uint32_t in_flight(EngineClass c) const { return in_flight_[static_cast<int>(c)]; }
  int current_layer() const { return current_layer_; }
  uint32_t current_op() const { return current_op_; }
  // Called after every event (trace sampling); may be empty.
  std::function<void(uint64_t cycle)> on_event;
  // With ControlOptions::wait_for_start: starts the stream (again after each end).
  // run_ended() is notified when the stream ends, finished or not (stats().finished,
  // stats().deadlock say which).
  void start() { start_.notify(sc_core::SC_ZERO_TIME); }
  // Before a later start(): the scoreboard, the residency manager and stats() as at
  // elaboration. The buffers must be empty (SramBuffer::clear_residency) and the data path of a
  // functional run a fresh one (set_contents).
  void reset_for_next_run();
  const sc_core::sc_event& run_ended() const { return run_ended_; }

 private:
  enum class State : uint8_t { waiting, issued, done };
  using Block = IssueBlock;
  struct Event {
    uint64_t cycle;
    uint32_t id;  // instruction id, or run-time transfer index | kInternal
    bool operator>(const Event& o) const { return cycle != o.cycle ? cycle > o.cycle : id > o.id; }
  };
  static constexpr uint32_t kInternal = 0x80000000u;
  struct RunTimeTransfer {  // a spill or reload the residency manager started
    uint32_t part;          // global part index
    Opcode opcode;
    bool keep_pin = false;  // a reload for the gathering tile job: stays pinned when done
  };
  using Dispatcher = uint64_t (ControlBlock::*)(const Instruction&, uint64_t);

  // elaboration
  void build_issue_slots();
  void build_operand_lists();
  void build_part_uses();
  std::vector<uint64_t> expected_positions() const;
  void build_dependency_graph();
  void attach_payload_extensions();
  // main loop
  void run();
  void run_stream();
  void count_stall(uint64_t gap_cycles);
  // issue (scoreboard and issue logic)
  void try_issue(uint64_t now);
  void advance_oldest_compute();
  void issue_in_order(uint64_t now);
  void issue_ready(uint64_t now);
  bool load_fits_free_space(const Instruction& in);
  bool outputs_still_blocked(uint32_t job) const;
  static double memory_bytes_per_cycle(const AcceleratorConfig& cfg, const Technology& tech);
  void note_oldest_compute_block();
  Block try_issue_one(const Instruction& in, uint64_t now);
  Block issue_tile_job(const Instruction& in, uint64_t now, uint64_t* completion);
  Block bring_operands_on_chip(const Instruction& in, OperandSpan operands, uint64_t now);
  Block issue_memory_instruction(const Instruction& in, uint64_t now, uint64_t* completion);
  // TransferPort: a run-time spill or reload for the residency manager.
  void start_transfer(Opcode opcode, uint32_t part, uint64_t now, bool keep_pin) override;
  // completion
  void complete(uint32_t id, uint64_t now);
  void complete_run_time_transfer(const RunTimeTransfer& transfer);
  void complete_tile_job(const Instruction& in, uint64_t now);
  void complete_memory_instruction(const Instruction& in);
  void release_dependents(uint32_t id);
  // transactions
  uint64_t transfer(Opcode op, uint32_t part, uint64_t now);
  uint64_t dispatch(const Instruction& in, uint64_t now);
  uint64_t dispatch_groups(const Instruction& in, uint64_t now);  // published batching
  uint64_t send_job(const Instruction& in, uint64_t request);
  Datapath* contents_ = nullptr;                        // functional runs: the parts' values
  std::vector<unsigned char> xfer_data_, xfer_expect_;  // a transfer's contents
  sc_core::sc_time delay_until(uint64_t cycle) const;
  void record_dispatch(const Instruction& in, uint64_t start, uint64_t completion,
                       uint64_t busy_unit_cycles);
  std::string deadlock_report(uint64_t now) const;
  EngineClass engine_of(Opcode op) const;
  bool deps_done(const Instruction& in) const { return deps_left_[in.id] == 0; }
  OpId op_of(const Instruction& in) const;
  OperandSpan operands_of(uint32_t id) const {
    return OperandSpan{operands_.data() + operands_begin_[id],
                       operands_.data() + operands_begin_[id + 1]};
  }
  OpRunStats* op_stats(OpId op) { return op < stats_.ops.size() ? &stats_.ops[op] : nullptr; }
  static const Program& issue_program(const Program& prog, Program& grouped,
                                      std::vector<InstrId>& group_first);
  // Program instructions of issued instruction `id`, the program id of its first one and of
  // its last one (the one dependencies on a block name).
  uint64_t members(uint32_t id) const {
    return group_first_.empty() ? 1 : group_first_[id + 1] - group_first_[id];
  }
  InstrId program_id(uint32_t id) const { return group_first_.empty() ? id : group_first_[id]; }
  InstrId program_last_id(uint32_t id) const {
    return group_first_.empty() ? id : group_first_[id + 1] - 1;
  }

  // Issue groups (docs/isa.md): the program with one instruction per group of consecutive
  // tile-job instructions of one block, when the policy issues blocks whole and some group has
  // more than one instruction; then group_first_ holds the program id of each group's first
  // instruction (and, last, the program's instruction count). prog_ is what the control block
  // issues: that program, or the one it was given.
  Program grouped_;
  std::vector<InstrId> group_first_;
  const Program& prog_;
  uint64_t program_instructions_;  // instructions of the program given
  AcceleratorConfig cfg_;
  ControlOptions copts_;
  ControlPolicy policy_;
  std::unique_ptr<ResidencyManager> residency_;  // rebuilt for a next run (reset_for_next_run)
  std::array<SramBuffer*, 3> buffers_;           // activation, weight, mask (reset_for_next_run)
  double memory_bytes_per_cycle_;
  double clock_mhz_;
  Dispatcher dispatch_tile_job_;  // dispatch, or dispatch_groups (the published batching)

  // The scoreboard: instruction states, why each waits, dependencies.
  std::vector<State> state_;
  std::vector<Block> blocked_;
  std::vector<uint32_t> deps_left_;            // unfinished dependencies per instruction
  std::vector<uint32_t> rdeps_begin_, rdeps_;  // dependents (CSR)
  std::set<uint32_t> ready_;  // dependencies met, not yet issued (default scheduler)
  // Per tile-job instruction: the parts it reads and writes (CSR).
  std::vector<uint32_t> operands_begin_;
  std::vector<OperandRef> operands_;
  uint64_t churn_ = 0, churn_limit_ = 0;  // run-time transfers since the last completion
  std::vector<uint8_t> wait_oldest_;      // per tile job: waits until it is the oldest
  std::vector<uint64_t> tried_epoch_;     // per instruction: residency epoch of its last failure
  // Tile jobs whose outputs found no room: the pinned bytes of the three buffers after the
  // attempt. Such a job can issue only after some buffer's pinned bytes fall below these.
  std::unordered_map<uint32_t, ResidencyManager::PerBufferBytes> outputs_blocked_at_;
  std::vector<uint64_t> issue_cursor_;  // per (layer, head) slot: next free issue slot
  size_t slots_per_layer_ = 1;
  uint32_t oldest_compute_ = 0;
  Block oldest_compute_block_ = Block::none;
  std::vector<RunTimeTransfer> internal_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t done_ = 0, issued_total_ = 0;      // done_: issued instructions (groups) completed
  uint64_t completed_instructions_ = 0;       // program instructions completed
  uint32_t head_ = 0;                         // oldest unfinished instruction
  uint32_t next_mem_ = 0, next_compute_ = 0;  // in-order streams
  std::array<uint32_t, kEngineClasses> in_flight_{};
  uint32_t compute_in_flight_ = 0;
  int current_layer_ = -1;
  uint32_t current_op_ = 0;
  OpId charge_op_ = kNone;  // op charged for run-time spills and reloads
  ControlStats stats_;
  tlm::tlm_generic_payload job_gp_;   // tile jobs (TileJobExt attached for life)
  tlm::tlm_generic_payload xfer_gp_;  // transfers (TransferExt attached for life)
  proto::TileJobExt job_;
  proto::TransferExt xfer_;
  sc_core::sc_event start_, run_ended_;
};

}  // namespace acceltran

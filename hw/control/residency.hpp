// Residency of tensor parts in the on-chip buffers (docs/memory.md §2.3 and §2.5;
// docs/architecture.md, "The control block"), apart from the control block's scoreboard and
// issue logic.
//
// Every tensor is cut into parts (compiler/parts.hpp: a row panel of an activation, a block of
// a weight); each part has a home in main memory and is resident in the activation or weight
// buffer (its data) and the mask buffer (its mask) as one unit. The residency manager
//  * allocates parts (at load, or at the first write of an output part) and pins them while an
//    issued instruction uses them;
//  * handles evictions: a full buffer drops unpinned parts (the buffer's policy: by default the
//    part whose next use in the static program lies farthest ahead, and for a load never one
//    needed sooner than the part loaded; LRU or FIFO on request). A part's data and mask are placed
//    together and evicted together. A dropped part that a later instruction still needs is spilled
//    to main memory, and reloaded before its next use (LOAD_A; an evicted weight is loaded again
//    from its home);
//  * lets the oldest waiting tile job gather its operands: it holds (pins) what it has and
//    fetches what it lacks, so that fetching one part cannot evict another it needs.
// Transfers go through a TransferPort (the control block's DMA socket), so that the manager
// runs and is tested without a simulation.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/hw/control/control_policy.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"

namespace acceltran {

// Why an instruction cannot issue now.
enum class IssueBlock : uint8_t { none, dependency, memory, buffer_full };

enum class Residency : uint8_t { absent, loading, resident, spilling, in_memory };

// How the gathering tile job holds a part. pinned: it pinned the part (resident, or being
// loaded by another instruction); own_reload: the reload it started holds the part's pin.
enum class Hold : uint8_t { none, pinned, own_reload };

enum class OperandAccess : uint8_t { read, write };

// One operand of a tile job: a part it reads or writes, and the buffer holding its data.
struct OperandRef {
  uint32_t part = 0;  // global part index (PartTable numbering)
  proto::Buffer buffer = proto::Buffer::activation;
  OperandAccess access = OperandAccess::read;
  bool writes() const { return access == OperandAccess::write; }
};

// A contiguous run of operands (a tile job's, in the control block's operand array).
struct OperandSpan {
  const OperandRef* first = nullptr;
  const OperandRef* last = nullptr;  // one past the end
  const OperandRef* begin() const { return first; }
  const OperandRef* end() const { return last; }
  uint32_t size() const { return static_cast<uint32_t>(last - first); }
};

// What the manager knows of a part (fixed for a run).
struct PartInfo {
  TensorId tensor = kNone;
  uint32_t index = 0;  // part index inside its tensor
  proto::Buffer buffer = proto::Buffer::activation;
  uint64_t data_bytes = 0, mask_bytes = 0;  // zero-free data and its mask, on chip
  uint64_t address = 0;                     // home in main memory
  uint64_t bytes() const { return data_bytes + mask_bytes; }  // what a transfer moves
};

struct PartTable {
  std::vector<PartInfo> parts;            // by global part index
  std::vector<uint32_t> first_part;       // per tensor: global index of its part 0
  std::vector<std::string> tensor_names;  // per tensor, for messages
};

// The parts of every tensor of `prog`, homes laid out in order on 4 KiB boundaries.
// dense_homes (functional runs): each home is reserved at the part's dense size.
PartTable part_table(const Program& prog, bool dense_homes);

// The run-time transfers the manager starts (spills, reloads); the control block issues them.
class TransferPort {
 public:
  virtual ~TransferPort() = default;
  // Starts `opcode` (SPILL, LOAD_A or LOAD_W) of `part` at cycle `now`. The port reports the
  // completion back (spill_done / reload_done). keep_pin: a reload for the gathering tile job.
  virtual void start_transfer(Opcode opcode, uint32_t part, uint64_t now, bool keep_pin) = 0;
};

// Why a part left a buffer: its own buffer needed room, or the other buffer of the pair (the
// mask buffer for data, a data buffer for a mask) dropped its other half.
enum class EvictionCause : uint8_t { room, coupled };
constexpr int kEvictionCauses = 2;

// Evictions of one buffer, and the reloads they caused, by cause (report.json memory.*).
struct BufferEvictions {
  std::array<uint64_t, kEvictionCauses> evictions{}, evicted_bytes{};
  std::array<uint64_t, kEvictionCauses> reloads{}, reload_bytes{};  // data buffers
};

// The instructions that use each part, in program order (CSR over the global part index): the
// residency manager's view of the future (eviction policy next_use).
struct PartUses {
  std::vector<uint32_t> begin;         // per part, into `instructions`; one past the last part
  std::vector<uint32_t> instructions;  // ascending per part
  // Per instruction: when it is expected to run, as an order (smaller: sooner). Empty: the
  // program order.
  std::vector<uint64_t> position;
};

struct PartState {
  Residency residency = Residency::absent;
  bool output_pending = false;   // final output not yet stored (STORE_M)
  bool allocated = false;        // an output part: allocated by its first writer
  bool fresh = false;            // allocated by the tile job being issued (undone if it fails)
  uint32_t readers_left = 0;     // compute instructions still to complete that read it
  uint32_t running_readers = 0;  // of those, issued and not yet complete
  bool doomed = false;  // every reader left is running: freed when they complete (doomed_bytes_)
  uint32_t doomed_index = 0;   // in doomed_parts_, while doomed
  uint64_t release_cycle = 0;  // the last completion of its running readers
  bool in_place = false;       // freed at issue: its last reader writes its outputs over it
};

class ResidencyManager {
 public:
  ResidencyManager(PartTable table, const ControlPolicy& policy, SramBuffer& activation_buffer,
                   SramBuffer& weight_buffer, SramBuffer& mask_buffer, TransferPort& port);

  // --- the parts ---
  uint32_t part_count() const { return static_cast<uint32_t>(parts_.size()); }
  uint32_t part_index(TensorId tensor, uint32_t part) const {
    return table_.first_part[tensor] + part;
  }
  const PartInfo& info(uint32_t part) const { return table_.parts[part]; }
  const PartState& state(uint32_t part) const { return parts_[part]; }
  Residency residency(uint32_t part) const { return parts_[part].residency; }
  ResidentKey key_of(uint32_t part) const {
    return ResidentKey{table_.parts[part].tensor, table_.parts[part].index};
  }
  // Set up before the run: a compute instruction reads the part; the part is a final output;
  // a STORE_A writes the tensor.
  void add_reader(uint32_t part) { parts_[part].readers_left += 1; }
  void expect_output(uint32_t part) { parts_[part].output_pending = true; }
  void mark_stored(TensorId tensor) { stored_[tensor] = 1; }
  // --- the future (eviction policy next_use) ---
  // The instructions using each part; set before the run, with the instruction count.
  void set_uses(PartUses uses, size_t instruction_count);
  // Instruction `id` has issued: it no longer counts as a use ahead.
  void note_issued(uint32_t id) {
    if (id < issued_.size()) issued_[id] = 1;
  }
  // Program position of the part's next use not yet issued (SramBuffer::kNeverUsed: none).
  uint64_t next_use(uint32_t part);
  // Next-use policy: lets every allocation, loads too, evict data needed sooner than the part
  // placed (set when nothing else can make progress; cleared when an instruction completes).
  void set_unrestricted_eviction(bool on);
  bool unrestricted_eviction() const { return unrestricted_eviction_; }
  // Re-ranks a resident part after a use of it issued without pinning it.
  void refresh(uint32_t part, uint64_t now);
  // Evictions and reloads per buffer (activation, weight, mask) and cause.
  const std::array<BufferEvictions, 3>& evictions() const { return evictions_; }
  // Inputs that element-wise tile jobs overwrote in place (ControlPolicy::in_place_elementwise).
  uint64_t in_place_parts() const { return in_place_parts_; }

  // An activation part a later instruction still reads (or that is a final output not yet
  // stored): evicting it spills it.
  bool needed_later(const ResidentKey& key) const;
  SramBuffer& data_buffer(uint32_t part) {
    return info(part).buffer == proto::Buffer::activation ? activation_buffer_ : weight_buffer_;
  }
  SramBuffer& mask_buffer() { return mask_buffer_; }
  // Bumped whenever pins drop or transfers complete: a tile job that could not issue is tried
  // again only after a change.
  uint64_t epoch() const { return epoch_; }
  void note_change() { ++epoch_; }

  // --- pins and allocation ---
  // Bytes per buffer slot (activation, weight, mask).
  using PerBufferBytes = std::array<uint64_t, 3>;
  // The buffers' pinned bytes: an allocation that failed for lack of room can succeed only once
  // one of them falls.
  PerBufferBytes pinned_bytes() const {
    return {buffers_[0]->pinned_bytes(), buffers_[1]->pinned_bytes(), buffers_[2]->pinned_bytes()};
  }
  void pin(uint32_t part);
  void unpin(uint32_t part);
  // Makes room for the part's data and mask (evicting unpinned parts); false: no room.
  // `demand`: for an instruction issuing now (tile-job outputs, gathered operands), which may
  // evict any unpinned data; otherwise (loads, possibly ahead of need) next-use eviction keeps
  // data needed sooner than the part placed.
  bool allocate(uint32_t part, uint64_t now, bool pin, bool demand);
  // Resident: an LRU refresh. Absent weight or spilled activation: a reload is started
  // (IssueBlock::memory until it completes). keep_pin: the reload is the gatherer's hold.
  IssueBlock ensure_resident(uint32_t part, uint64_t now, bool keep_pin = false);

  // --- memory instructions of the program ---
  // LOAD_A / LOAD_W: allocates and pins the part. none: the transfer must start (the part is
  // now loading); already on chip: `*on_chip` is set and nothing is to move.
  IssueBlock begin_load(uint32_t part, uint64_t now, bool* on_chip);
  // STORE_M / SPILL: the part is on chip and pinned for the transfer, or the reason it waits.
  IssueBlock begin_write_back(uint32_t part, uint64_t now, bool* already_in_memory);
  void load_done(uint32_t part);
  void store_done(uint32_t part);       // STORE_A
  void write_back_done(uint32_t part);  // STORE_M, SPILL
  void spill_done(uint32_t part);       // a run-time spill
  void reload_done(uint32_t part, bool keep_pin);

  // --- tile jobs ---
  // Does the tile job need this operand on chip? Its inputs, and output parts already begun by
  // an earlier tile job that were evicted since.
  bool needs(const OperandRef& operand) const {
    const PartState& s = parts_[operand.part];
    return !operand.writes() || (s.allocated && s.residency != Residency::resident);
  }
  // The oldest waiting tile job `job` gathers its operands, resuming where it stopped.
  IssueBlock gather(uint32_t job, OperandSpan operands, uint64_t now);
  IssueBlock gather_from_cursor(OperandSpan operands, uint64_t now, bool* stopped);
  bool to_hold(const OperandRef& operand) const;
  // A younger tile job: true when every operand it needs is on chip (then LRU-refreshed).
  bool all_on_chip(OperandSpan operands, uint64_t now);
  // Fetches the needed operands in order, stopping at the first that is not on chip.
  IssueBlock fetch_in_order(OperandSpan operands, uint64_t now);
  // Pins the inputs and allocates the outputs. Outputs that cannot all fit (their bytes exceed a
  // buffer's capacity less its pinned bytes) are not placed: that buffer evicts its unpinned
  // parts, the pins are undone and the job waits.
  // elementwise: an element-wise tile job, whose outputs may overwrite the inputs it reads last
  // (ControlPolicy::in_place_elementwise).
  IssueBlock pin_and_allocate_outputs(OperandSpan operands, uint64_t now, bool elementwise = false);
  // Does the tile job wait for room that running tile jobs give back (room_comes_back)?
  bool waits_for_room(OperandSpan operands) const { return reserved_by_ == operands.first; }
  // The tile job just issued completes at `completion_cycle` (when its inputs' pins drop).
  void note_running_until(OperandSpan operands, uint64_t completion_cycle);
  // Main-memory bytes per cycle: what a spill and reload cost, against waiting for room.
  void set_memory_bytes_per_cycle(double bytes_per_cycle) {
    memory_bytes_per_cycle_ = bytes_per_cycle;
  }
  // A tile job completed: drops its pins; frees parts nobody reads again.
  void finish_tile_job(OperandSpan operands, bool last_job_of_op, uint64_t now);
  uint32_t gatherer() const { return gatherer_; }
  void release_gather();

 private:
  void evicted(const ResidentKey& key, uint64_t now, SramBuffer* from);
  void count_eviction(uint32_t part, SramBuffer* from);
  void count_reload(uint32_t part);
  int buffer_slot(const SramBuffer& buffer) const;
  const SramBuffer& data_buffer(uint32_t part) const {
    return info(part).buffer == proto::Buffer::activation ? activation_buffer_ : weight_buffer_;
  }
  void free_part(uint32_t part, uint64_t now);
  void undo_allocation(OperandSpan operands, uint64_t now);
  PerBufferBytes output_bytes_to_place(OperandSpan operands) const;
  bool is_overwritten_in_place(const OperandRef& operand) const;
  bool fits_in_place(OperandSpan operands, const PerBufferBytes& need_bytes);
  void free_inputs_in_place(uint64_t now);
  bool outputs_fit(const PerBufferBytes& need_bytes) const;
  bool room_comes_back(const PerBufferBytes& need_bytes, const OperandRef* job, uint64_t now) const;
  bool room_back_by(const PerBufferBytes& shortfall_bytes, uint64_t deadline_cycle) const;
  void reserve_room(const OperandRef* by);
  void make_room_for_outputs(const PerBufferBytes& need_bytes, uint64_t now);
  void hold(uint32_t part, Hold how, bool waiting);
  void add_running_readers(OperandSpan operands);
  void update_doomed(uint32_t part);

  PartTable table_;
  ControlPolicy policy_;
  SramBuffer& activation_buffer_;
  SramBuffer& weight_buffer_;
  SramBuffer& mask_buffer_;
  // The three buffers by slot (buffer_slot order: activation, weight, mask).
  std::array<SramBuffer*, 3> buffers_{&activation_buffer_, &weight_buffer_, &mask_buffer_};
  bool unrestricted_eviction_ = false;
  // Output parts begun so far, and their count when the gatherer last looked behind its cursor.
  uint64_t outputs_begun_ = 0, gather_swept_at_ = ~uint64_t{0};
  uint64_t in_place_parts_ = 0;            // inputs overwritten in place by element-wise outputs
  std::vector<uint32_t> in_place_inputs_;  // the issuing job's inputs it overwrites (scratch)
  TransferPort& port_;
  std::vector<PartState> parts_;
  std::vector<uint8_t> stored_;  // per tensor: written by a STORE_A
  uint64_t epoch_ = 0;
  // The gathering tile job (the oldest waiting one), the parts it holds and those of them not
  // yet resident, and how far it got through its operands.
  uint32_t gatherer_ = kNone;
  std::vector<uint32_t> gather_holds_;
  std::vector<Hold> hold_;  // per part
  std::vector<uint32_t> gather_waiting_;
  uint32_t gather_cursor_ = 0;
  std::vector<uint32_t> fresh_;  // scratch: output parts allocated by this issue
  // The future: uses per part, how far each part's uses have been consumed, issued flags.
  PartUses uses_;
  std::vector<uint32_t> use_cursor_;
  std::vector<uint8_t> issued_;
  std::array<BufferEvictions, 3> evictions_{};
  std::vector<EvictionCause> eviction_cause_;  // per part: why it was last evicted
  // Per buffer slot: bytes of the doomed parts, which running tile jobs will free on completion.
  PerBufferBytes doomed_bytes_{};
  std::vector<uint32_t> doomed_parts_;
  double memory_bytes_per_cycle_ = 0;  // 0: a tile job never waits for doomed room
  static constexpr uint64_t kNever = ~uint64_t{0};
  // The tile job (by its operands) promised the doomed room it waits for (room_comes_back).
  const OperandRef* reserved_by_ = nullptr;
};

}  // namespace acceltran

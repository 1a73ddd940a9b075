#include "acceltran/hw/control/residency.hpp"

#include <algorithm>

#include "acceltran/compiler/parts.hpp"

namespace acceltran {

namespace {
constexpr uint64_t kAlign = 4096;  // parts start on a 4 KiB boundary in main memory
}  // namespace

PartTable part_table(const Program& prog, bool dense_homes) {
  PartTable table;
  table.first_part.resize(prog.tensors.size());
  table.tensor_names.resize(prog.tensors.size());
  const int word_bits = prog.info.word_bits;
  uint64_t address = 0;
  for (const auto& tensor : prog.tensors) {
    const PartGrid grid = part_grid(tensor);
    table.first_part[tensor.id] = static_cast<uint32_t>(table.parts.size());
    table.tensor_names[tensor.id] = tensor.name;
    for (uint32_t index = 0; index < grid.parts(); ++index) {
      PartInfo part;
      part.tensor = tensor.id;
      part.index = index;
      part.buffer =
          tensor.cls == TensorClass::activation ? proto::Buffer::activation : proto::Buffer::weight;
      part.data_bytes = part_data_bytes(tensor, grid, index, word_bits);
      part.mask_bytes = part_mask_bytes(tensor, grid, index);
      part.address = address;
      // A functional run's home holds the part's zero-free image whatever its sparsity.
      const uint64_t home_data_bytes =
          dense_homes ? zero_free_bytes(part_elements(tensor, grid, index), word_bits, 0)
                      : part.data_bytes;
      address += (home_data_bytes + part.mask_bytes + kAlign - 1) / kAlign * kAlign;
      table.parts.push_back(part);
    }
  }
  return table;
}

ResidencyManager::ResidencyManager(PartTable table, const ControlPolicy& policy,
                                   SramBuffer& activation_buffer, SramBuffer& weight_buffer,
                                   SramBuffer& mask_buffer, TransferPort& port)
    : table_(std::move(table)),
      policy_(policy),
      activation_buffer_(activation_buffer),
      weight_buffer_(weight_buffer),
      mask_buffer_(mask_buffer),
      port_(port),
      parts_(table_.parts.size()),
      stored_(table_.first_part.size(), 0),
      hold_(table_.parts.size(), Hold::none),
      eviction_cause_(table_.parts.size(), EvictionCause::room) {
  auto needed = [this](const ResidentKey& key) { return needed_later(key); };
  auto next = [this](const ResidentKey& key) { return next_use(part_index(key.tensor, key.part)); };
  for (SramBuffer* buffer : {&activation_buffer_, &weight_buffer_, &mask_buffer_}) {
    buffer->set_needed_later(needed);
    buffer->set_next_use(next);
  }
}

// ---------------------------------------------------------------- the future
void ResidencyManager::set_uses(PartUses uses, size_t instruction_count) {
  uses_ = std::move(uses);
  use_cursor_.assign(uses_.begin.begin(), uses_.begin.end());
  issued_.assign(instruction_count, 0);
}

uint64_t ResidencyManager::next_use(uint32_t part) {
  if (part + 1 >= uses_.begin.size()) return SramBuffer::kNeverUsed;  // no uses given
  uint32_t& cursor = use_cursor_[part];
  const uint32_t end = uses_.begin[part + 1];
  // Uses issue roughly in program order: skip the issued ones (each at most once per part).
  while (cursor < end && issued_[uses_.instructions[cursor]]) ++cursor;
  if (cursor == end) return SramBuffer::kNeverUsed;
  const uint32_t id = uses_.instructions[cursor];
  return uses_.position.empty() ? id : uses_.position[id];
}

void ResidencyManager::refresh(uint32_t part, uint64_t now) {
  const ResidentKey key = key_of(part);
  data_buffer(part).refresh(key, now);
  mask_buffer_.refresh(key, now);
}

int ResidencyManager::buffer_slot(const SramBuffer& buffer) const {
  return &buffer == &activation_buffer_ ? 0 : &buffer == &weight_buffer_ ? 1 : 2;
}

// `from` dropped the part to make room; the other buffer of the pair dropped its other half.
void ResidencyManager::count_eviction(uint32_t part, SramBuffer* from) {
  SramBuffer& data = data_buffer(part);
  const bool data_first = from == &data;
  eviction_cause_[part] = data_first ? EvictionCause::room : EvictionCause::coupled;
  const int room = static_cast<int>(EvictionCause::room);
  const int coupled = static_cast<int>(EvictionCause::coupled);
  BufferEvictions& data_counts = evictions_[buffer_slot(data)];
  BufferEvictions& mask_counts = evictions_[2];
  data_counts.evictions[data_first ? room : coupled] += 1;
  data_counts.evicted_bytes[data_first ? room : coupled] += info(part).data_bytes;
  mask_counts.evictions[data_first ? coupled : room] += 1;
  mask_counts.evicted_bytes[data_first ? coupled : room] += info(part).mask_bytes;
}

void ResidencyManager::count_reload(uint32_t part) {
  BufferEvictions& counts = evictions_[buffer_slot(data_buffer(part))];
  const int cause = static_cast<int>(eviction_cause_[part]);
  counts.reloads[cause] += 1;
  counts.reload_bytes[cause] += info(part).bytes();
}

bool ResidencyManager::needed_later(const ResidentKey& key) const {
  const uint32_t part = part_index(key.tensor, key.part);
  const PartState& state = parts_[part];
  return info(part).buffer == proto::Buffer::activation &&
         (state.readers_left > 0 || state.output_pending);
}

void ResidencyManager::set_unrestricted_eviction(bool on) {
  if (on == unrestricted_eviction_) return;
  unrestricted_eviction_ = on;
  ++epoch_;  // blocked tile jobs are worth trying again
}

// ---------------------------------------------------------------- pins and allocation
void ResidencyManager::pin(uint32_t part) {
  const ResidentKey key = key_of(part);
  data_buffer(part).pin(key);
  mask_buffer_.pin(key);
}

void ResidencyManager::unpin(uint32_t part) {
  ++epoch_;
  const ResidentKey key = key_of(part);
  data_buffer(part).unpin(key);
  mask_buffer_.unpin(key);
}

bool ResidencyManager::allocate(uint32_t part, uint64_t now, bool pin, bool demand) {
  const auto reach = demand || unrestricted_eviction_ ? SramBuffer::EvictionReach::any
                                                      : SramBuffer::EvictionReach::used_later;
  const ResidentKey key = key_of(part);
  const std::string& tensor_name = table_.tensor_names[key.tensor];
  SramBuffer& data = data_buffer(part);
  // Next-use eviction places data and mask together or not at all: both must fit first.
  if (data.eviction() == EvictionPolicy::next_use &&
      (!data.can_allocate(key, info(part).data_bytes, reach) ||
       !mask_buffer_.can_allocate(key, info(part).mask_bytes, reach)))
    return false;
  AllocResult data_result = data.allocate(key, info(part).data_bytes, tensor_name, now, reach);
  if (!data_result.fitted) return false;
  AllocResult mask_result =
      mask_buffer_.allocate(key, info(part).mask_bytes, tensor_name, now, reach);
  // Whatever the data buffer dropped is gone even if the mask does not fit.
  for (const auto& victim : data_result.evicted) evicted(victim.key, now, &data);
  if (!mask_result.fitted) {
    data.release(key, now);
    return false;
  }
  for (const auto& victim : mask_result.evicted) evicted(victim.key, now, &mask_buffer_);
  if (pin) {
    data.pin(key);
    mask_buffer_.pin(key);
  }
  return true;
}

// A buffer dropped a part (data or mask) to make room: drop the other half, and write the data
// back to main memory if a later instruction still needs them.
void ResidencyManager::evicted(const ResidentKey& key, uint64_t now, SramBuffer* from) {
  const uint32_t part = part_index(key.tensor, key.part);
  PartState& state = parts_[part];
  if (state.residency != Residency::resident) return;  // its other half was dropped already
  count_eviction(part, from);
  SramBuffer& data = data_buffer(part);
  if (from != &data && data.contains(key)) data.release(key, now);
  if (from != &mask_buffer_ && mask_buffer_.contains(key)) mask_buffer_.release(key, now);
  if (needed_later(key)) {
    state.residency = Residency::spilling;
    port_.start_transfer(Opcode::SPILL, part, now, false);
  } else {
    // Dead data, or a weight that is reloaded from its home copy.
    state.residency = Residency::absent;
    state.allocated = false;
  }
}

void ResidencyManager::free_part(uint32_t part, uint64_t now) {
  const ResidentKey key = key_of(part);
  data_buffer(part).release(key, now);
  mask_buffer_.release(key, now);
  parts_[part].allocated = false;
  parts_[part].residency = Residency::absent;
}

IssueBlock ResidencyManager::ensure_resident(uint32_t part, uint64_t now, bool keep_pin) {
  PartState& state = parts_[part];
  switch (state.residency) {
    case Residency::resident:
      data_buffer(part).lookup(key_of(part), now);  // LRU refresh, hit count
      return IssueBlock::none;
    case Residency::loading:
    case Residency::spilling:
      return IssueBlock::memory;
    case Residency::absent:
      if (info(part).buffer == proto::Buffer::activation)
        return IssueBlock::dependency;  // not produced yet (hand-written streams)
      [[fallthrough]];
    case Residency::in_memory: {
      // Reload: a spilled activation part (LOAD_A) or an evicted weight part (LOAD_W again).
      if (!allocate(part, now, true, true)) return IssueBlock::buffer_full;
      const Opcode opcode =
          info(part).buffer == proto::Buffer::activation ? Opcode::LOAD_A : Opcode::LOAD_W;
      state.residency = Residency::loading;
      count_reload(part);
      port_.start_transfer(opcode, part, now, keep_pin);
      return IssueBlock::memory;
    }
  }
  return IssueBlock::none;
}

// ---------------------------------------------------------------- memory instructions
IssueBlock ResidencyManager::begin_load(uint32_t part, uint64_t now, bool* on_chip) {
  PartState& state = parts_[part];
  *on_chip = state.residency == Residency::resident;
  if (*on_chip) return IssueBlock::none;  // nothing to move
  if (state.residency == Residency::loading || state.residency == Residency::spilling)
    return IssueBlock::memory;
  if (!allocate(part, now, true, false)) return IssueBlock::buffer_full;
  state.residency = Residency::loading;
  return IssueBlock::none;
}

IssueBlock ResidencyManager::begin_write_back(uint32_t part, uint64_t now,
                                              bool* already_in_memory) {
  PartState& state = parts_[part];
  *already_in_memory = state.residency == Residency::in_memory;  // written back by a spill
  if (*already_in_memory) return IssueBlock::none;
  if (state.residency != Residency::resident)
    if (const IssueBlock block = ensure_resident(part, now); block != IssueBlock::none)
      return block;
  pin(part);
  return IssueBlock::none;
}

void ResidencyManager::load_done(uint32_t part) {
  PartState& state = parts_[part];
  if (state.residency != Residency::loading) return;
  state.residency = Residency::resident;
  unpin(part);
}

void ResidencyManager::store_done(uint32_t part) {
  // The output was pinned from its allocation until its STORE_A.
  if (data_buffer(part).pin_count(key_of(part)) > 0) unpin(part);
}

void ResidencyManager::write_back_done(uint32_t part) {
  parts_[part].output_pending = false;
  const ResidentKey key = key_of(part);
  SramBuffer& data = data_buffer(part);
  if (data.contains(key) && data.pin_count(key) > 0) unpin(part);
}

void ResidencyManager::spill_done(uint32_t part) {
  PartState& state = parts_[part];
  if (state.residency == Residency::spilling) state.residency = Residency::in_memory;
}

void ResidencyManager::reload_done(uint32_t part, bool keep_pin) {
  parts_[part].residency = Residency::resident;
  // A reload for the gathering tile job stays pinned while that job still holds it.
  if (!keep_pin || hold_[part] != Hold::own_reload) unpin(part);
}

// ---------------------------------------------------------------- tile jobs
void ResidencyManager::hold(uint32_t part, Hold how, bool waiting) {
  hold_[part] = how;
  gather_holds_.push_back(part);
  if (waiting) gather_waiting_.push_back(part);
}

// The gatherer holds every part it has, so that fetching one part cannot evict another it
// needs (no thrashing), and resumes where it stopped on the next attempt.
IssueBlock ResidencyManager::gather(uint32_t job, OperandSpan operands, uint64_t now) {
  if (gatherer_ != job) {
    release_gather();
    gatherer_ = job;
    gather_cursor_ = 0;
    gather_swept_at_ = ~uint64_t{0};
  }
  gather_waiting_.erase(
      std::remove_if(gather_waiting_.begin(), gather_waiting_.end(),
                     [&](uint32_t part) { return parts_[part].residency == Residency::resident; }),
      gather_waiting_.end());
  // Parts whose state changed behind the cursor (an output part begun by another tile job
  // since) are picked up by going back to the first of them.
  for (;;) {
    bool stopped = false;
    if (const IssueBlock block = gather_from_cursor(operands, now, &stopped);
        block != IssueBlock::none)
      return block;
    if (stopped || gather_swept_at_ == outputs_begun_) break;
    gather_swept_at_ = outputs_begun_;
    size_t missed = 0;
    while (missed < operands.size() && !to_hold(operands.first[missed])) ++missed;
    if (missed == operands.size()) break;
    gather_cursor_ = missed;
  }
  return gather_waiting_.empty() ? IssueBlock::none : IssueBlock::memory;
}

// A part the gatherer must hold and does not yet: an input (or a begun output) not on chip,
// or an output part begun by an earlier tile job, held even when on chip so that a reload later
// in this gather cannot evict it.
bool ResidencyManager::to_hold(const OperandRef& operand) const {
  const bool begun_output = operand.writes() && parts_[operand.part].allocated;
  return (needs(operand) || begun_output) && hold_[operand.part] == Hold::none;
}

// The gather's walk from its cursor: holds what is on chip or on its way, starts reloads.
IssueBlock ResidencyManager::gather_from_cursor(OperandSpan operands, uint64_t now, bool* stopped) {
  for (; gather_cursor_ < operands.size(); ++gather_cursor_) {
    const OperandRef& operand = operands.first[gather_cursor_];
    const uint32_t part = operand.part;
    if (!to_hold(operand)) continue;
    const Residency before = parts_[part].residency;
    if (before == Residency::resident || before == Residency::loading) {
      // On chip or on its way: pin it; ours to drop when the job issues.
      if (before == Residency::resident) ensure_resident(part, now);
      pin(part);
      hold(part, Hold::pinned, before == Residency::loading);
      continue;
    }
    const IssueBlock block = ensure_resident(part, now, true);  // reload, or wait for a spill
    if (parts_[part].residency == Residency::loading) {
      hold(part, Hold::own_reload, true);  // the reload's pin is the hold
      continue;
    }
    if (block != IssueBlock::none) return block;  // no room yet, or a spill in progress:
    *stopped = true;                              // resume here next time
    return IssueBlock::none;
  }
  return IssueBlock::none;
}

void ResidencyManager::release_gather() {
  // A part still being reloaded for the gatherer keeps the reload's pin until the reload
  // completes (then dropped, as it is no longer held).
  for (uint32_t part : gather_holds_) {
    const bool own_reload_pending =
        hold_[part] == Hold::own_reload && parts_[part].residency == Residency::loading;
    hold_[part] = Hold::none;
    if (!own_reload_pending) unpin(part);
  }
  gather_holds_.clear();
  gather_waiting_.clear();
  gather_cursor_ = 0;
  gatherer_ = kNone;
}

bool ResidencyManager::all_on_chip(OperandSpan operands, uint64_t now) {
  for (const OperandRef& operand : operands)
    if (needs(operand) && parts_[operand.part].residency != Residency::resident) return false;
  for (const OperandRef& operand : operands)
    if (needs(operand)) ensure_resident(operand.part, now);  // LRU refresh, hit count
  return true;
}

IssueBlock ResidencyManager::fetch_in_order(OperandSpan operands, uint64_t now) {
  for (const OperandRef& operand : operands)
    if (needs(operand))
      if (const IssueBlock block = ensure_resident(operand.part, now); block != IssueBlock::none)
        return block;
  return IssueBlock::none;
}

IssueBlock ResidencyManager::pin_and_allocate_outputs(OperandSpan operands, uint64_t now,
                                                      bool elementwise) {
  if (reserved_by_ == operands.first) reserve_room(nullptr);
  // Inputs pinned first: allocating the outputs must not evict them.
  for (const OperandRef& operand : operands)
    if (!operand.writes()) pin(operand.part);
  for (uint32_t part : fresh_) parts_[part].fresh = false;
  fresh_.clear();
  // Output parts begun by an earlier tile job, likewise (unless pinned since their allocation).
  if (!policy_.outputs_pinned_until_store)
    for (const OperandRef& operand : operands)
      if (operand.writes() && parts_[operand.part].allocated) pin(operand.part);
  const PerBufferBytes need_bytes = output_bytes_to_place(operands);
  if (elementwise && policy_.in_place_elementwise && fits_in_place(operands, need_bytes)) {
    free_inputs_in_place(now);
  } else if (!outputs_fit(need_bytes)) {
    make_room_for_outputs(need_bytes, now);
    undo_allocation(operands, now);
    return IssueBlock::buffer_full;
  } else if (room_comes_back(need_bytes, operands.first, now)) {
    reserve_room(operands.first);
    undo_allocation(operands, now);
    return IssueBlock::buffer_full;
  }
  for (const OperandRef& operand : operands) {
    if (!operand.writes()) continue;
    PartState& state = parts_[operand.part];
    if (state.allocated) continue;
    if (!allocate(operand.part, now, true, true)) {
      undo_allocation(operands, now);
      return IssueBlock::buffer_full;
    }
    state.allocated = true;
    ++outputs_begun_;
    state.residency = Residency::resident;
    state.fresh = true;
    fresh_.push_back(operand.part);
  }
  add_running_readers(operands);
  return IssueBlock::none;
}

// An input the element-wise tile job may overwrite: resident in the activation buffer, read by
// this job and no later one, pinned by this job alone, not a model output.
bool ResidencyManager::is_overwritten_in_place(const OperandRef& operand) const {
  if (operand.writes()) return false;
  const PartState& state = parts_[operand.part];
  const ResidentKey key = key_of(operand.part);
  const int own_pins = hold_[operand.part] == Hold::pinned ? 2 : 1;  // the gather's too
  return state.residency == Residency::resident && !state.output_pending &&
         state.readers_left == 1 && state.running_readers == 0 && !state.fresh &&
         &data_buffer(operand.part) == buffers_[0] &&
         data_buffer(operand.part).pin_count(key) == own_pins &&
         mask_buffer_.pin_count(key) == own_pins;
}

// The outputs overwrite the job's dead inputs (collected in in_place_inputs_) whenever the free
// room and the room of those inputs hold them (no eviction needed); otherwise the job allocates
// as any other.
bool ResidencyManager::fits_in_place(OperandSpan operands, const PerBufferBytes& need_bytes) {
  PerBufferBytes room_bytes{};
  for (int slot = 0; slot < 3; ++slot) room_bytes[slot] = buffers_[slot]->free_bytes();
  const int mask_slot = buffer_slot(mask_buffer_);
  in_place_inputs_.clear();
  for (const OperandRef& operand : operands) {
    if (!is_overwritten_in_place(operand)) continue;
    in_place_inputs_.push_back(operand.part);
    room_bytes[0] += info(operand.part).data_bytes;
    room_bytes[mask_slot] += info(operand.part).mask_bytes;
  }
  if (in_place_inputs_.empty()) return false;
  for (int slot = 0; slot < 3; ++slot)
    if (need_bytes[slot] > room_bytes[slot]) return false;
  return true;
}

// The inputs the outputs overwrite (fits_in_place's in_place_inputs_) leave the buffers now
// (their pins with them); the job's completion only counts them read (finish_tile_job).
void ResidencyManager::free_inputs_in_place(uint64_t now) {
  for (const uint32_t part : in_place_inputs_) {
    if (hold_[part] == Hold::pinned) {  // the gather lets go of it here
      unpin(part);
      hold_[part] = Hold::none;
      gather_holds_.erase(std::find(gather_holds_.begin(), gather_holds_.end(), part));
    }
    unpin(part);
    free_part(part, now);
    parts_[part].in_place = true;
    ++in_place_parts_;
  }
}

// The tile job issued: each of its inputs has one more running reader (finish_tile_job takes it
// back).
void ResidencyManager::add_running_readers(OperandSpan operands) {
  for (const OperandRef& operand : operands) {
    if (operand.writes()) continue;
    parts_[operand.part].running_readers += 1;
    update_doomed(operand.part);
  }
}

// The running tile job completes at `completion_cycle`: its inputs are held until then.
void ResidencyManager::note_running_until(OperandSpan operands, uint64_t completion_cycle) {
  for (const OperandRef& operand : operands) {
    if (operand.writes()) continue;
    uint64_t& release_cycle = parts_[operand.part].release_cycle;
    release_cycle = std::max(release_cycle, completion_cycle);
  }
}

// A part whose readers left are all running is freed when they complete: the room it holds
// will come back without an eviction (make_room_for_outputs).
void ResidencyManager::update_doomed(uint32_t part) {
  PartState& state = parts_[part];
  const bool doomed = policy_.free_dead_parts && !state.output_pending && !state.in_place &&
                      state.readers_left > 0 && state.running_readers >= state.readers_left;
  if (doomed == state.doomed) return;
  state.doomed = doomed;
  if (doomed) {
    state.doomed_index = static_cast<uint32_t>(doomed_parts_.size());
    doomed_parts_.push_back(part);
  } else {
    const uint32_t moved = doomed_parts_.back();
    doomed_parts_[state.doomed_index] = moved;
    parts_[moved].doomed_index = state.doomed_index;
    doomed_parts_.pop_back();
  }
  const uint64_t sign = doomed ? 1 : ~uint64_t{0};  // +1 or -1 modulo 2^64
  doomed_bytes_[buffer_slot(data_buffer(part))] += sign * info(part).data_bytes;
  doomed_bytes_[buffer_slot(mask_buffer_)] += sign * info(part).mask_bytes;
}

// Bytes of the outputs not yet begun, per buffer slot (activation, weight, mask).
ResidencyManager::PerBufferBytes ResidencyManager::output_bytes_to_place(
    OperandSpan operands) const {
  PerBufferBytes need_bytes{};
  for (const OperandRef& operand : operands) {
    if (!operand.writes() || parts_[operand.part].allocated) continue;
    need_bytes[buffer_slot(data_buffer(operand.part))] += info(operand.part).data_bytes;
    need_bytes[buffer_slot(mask_buffer_)] += info(operand.part).mask_bytes;
  }
  return need_bytes;
}

// Do they fit in the room their buffers can free (everything unpinned)?
bool ResidencyManager::outputs_fit(const PerBufferBytes& need_bytes) const {
  for (int slot = 0; slot < 3; ++slot)
    if (need_bytes[slot] > buffers_[slot]->placeable_bytes()) return false;
  return true;
}

// Should the tile job wait for the room that the doomed parts give back when the running tile
// jobs reading them complete, rather than evict (and spill) parts used later? Only when the free
// room alone is too small, no other waiting job was promised that room, and it comes back sooner
// than a spill and reload of the bytes an eviction would drop would take on main memory.
bool ResidencyManager::room_comes_back(const PerBufferBytes& need_bytes, const OperandRef* job,
                                       uint64_t now) const {
  if (memory_bytes_per_cycle_ <= 0 || (reserved_by_ != nullptr && reserved_by_ != job))
    return false;
  PerBufferBytes shortfall_bytes{};
  bool short_of_room = false;
  for (int slot = 0; slot < 3; ++slot) {
    const uint64_t free_bytes = buffers_[slot]->free_bytes();
    shortfall_bytes[slot] = need_bytes[slot] > free_bytes ? need_bytes[slot] - free_bytes : 0;
    if (shortfall_bytes[slot] > doomed_bytes_[slot]) return false;  // it never comes back
    short_of_room = short_of_room || shortfall_bytes[slot] > 0;
  }
  if (!short_of_room) return false;
  // A mask evicted drops its data too: the mask shortfall in data bytes, at the outputs' ratio.
  const uint64_t data_need_bytes = need_bytes[0] + need_bytes[1];
  const double mask_in_data =
      need_bytes[2] > 0 ? static_cast<double>(data_need_bytes) / static_cast<double>(need_bytes[2])
                        : 0.0;
  const double evicted_bytes =
      std::max({static_cast<double>(shortfall_bytes[0]), static_cast<double>(shortfall_bytes[1]),
                static_cast<double>(shortfall_bytes[2]) * mask_in_data});
  const double spill_and_reload_cycles = 2.0 * evicted_bytes / memory_bytes_per_cycle_;
  return room_back_by(shortfall_bytes, now + static_cast<uint64_t>(spill_and_reload_cycles));
}

// Do the doomed parts whose running readers complete by `deadline_cycle` give back every
// shortfall?
bool ResidencyManager::room_back_by(const PerBufferBytes& shortfall_bytes,
                                    uint64_t deadline_cycle) const {
  PerBufferBytes returned_bytes{};
  const int mask_slot = buffer_slot(mask_buffer_);
  for (uint32_t part : doomed_parts_) {
    if (parts_[part].release_cycle > deadline_cycle) continue;
    returned_bytes[buffer_slot(data_buffer(part))] += info(part).data_bytes;
    returned_bytes[mask_slot] += info(part).mask_bytes;
  }
  for (int slot = 0; slot < 3; ++slot)
    if (returned_bytes[slot] < shortfall_bytes[slot]) return false;
  return true;
}

// The doomed room a tile job waits for is promised to it until it tries again (by: null, to
// none): another waiting job does not count on the same room.
void ResidencyManager::reserve_room(const OperandRef* by) {
  reserved_by_ = by;
}

// Outputs that do not fit: each buffer too small for them (capacity less pinned bytes) evicts
// now, furthest next use first, what the doomed parts (freed when the running tile jobs
// complete) will not give back, so that the spills run while the tile job waits for pins to
// drop. Buffers that could hold them evict nothing yet.
void ResidencyManager::make_room_for_outputs(const PerBufferBytes& need_bytes, uint64_t now) {
  for (int slot = 0; slot < 3; ++slot) {
    SramBuffer& buffer = *buffers_[slot];
    if (need_bytes[slot] <= buffer.placeable_bytes()) continue;  // room enough
    const uint64_t returning_bytes = std::min(need_bytes[slot], doomed_bytes_[slot]);
    for (const Evicted& victim : buffer.make_free(need_bytes[slot] - returning_bytes, now))
      evicted(victim.key, now, &buffer);
  }
}

// Unpins what a failed pin_and_allocate_outputs pinned and frees the parts it allocated.
void ResidencyManager::undo_allocation(OperandSpan operands, uint64_t now) {
  for (const OperandRef& operand : operands) {
    const uint32_t part = operand.part;
    if (!operand.writes()) {
      unpin(part);
    } else if (parts_[part].fresh) {
      unpin(part);
      free_part(part, now);
    } else if (!policy_.outputs_pinned_until_store && parts_[part].allocated) {
      unpin(part);
    }
  }
}

void ResidencyManager::finish_tile_job(OperandSpan operands, bool last_job_of_op, uint64_t now) {
  for (const OperandRef& operand : operands) {
    const uint32_t part = operand.part;
    if (operand.writes()) {
      // Pinned until its STORE_A, or (never stored: --reference-bugs unstored-outputs) until
      // its op's last tile job.
      if (!policy_.outputs_pinned_until_store || (!stored_[info(part).tensor] && last_job_of_op))
        unpin(part);
      continue;
    }
    PartState& state = parts_[part];
    if (state.in_place) {  // overwritten by the outputs: gone since the issue
      state.in_place = false;
      state.readers_left -= 1;
      state.running_readers -= 1;
      continue;
    }
    unpin(part);
    state.readers_left -= 1;
    state.running_readers -= 1;
    if (state.running_readers == 0) state.release_cycle = 0;
    update_doomed(part);
    // A part nobody reads again (and that is not the model's output) is dead: its buffer space
    // is freed now rather than when something evicts it.
    if (policy_.free_dead_parts && state.readers_left == 0 && !state.output_pending &&
        state.residency == Residency::resident) {
      const ResidentKey key = key_of(part);
      if (data_buffer(part).pin_count(key) == 0 && mask_buffer_.pin_count(key) == 0)
        free_part(part, now);
    }
  }
}

}  // namespace acceltran

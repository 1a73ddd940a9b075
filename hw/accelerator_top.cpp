#include "acceltran/hw/accelerator_top.hpp"

#include <fmt/format.h>

#include <memory>
#include <sstream>
#include <unordered_map>

#include "acceltran/compiler/isa_text.hpp"
#include "acceltran/compiler/parts.hpp"
#include "acceltran/config/zero_free_format.hpp"

namespace acceltran {

Accelerator::Accelerator(sc_core::sc_module_name name, const Program& prog,
                         const AcceleratorConfig& cfg, const Technology& tech, const RunOptions& o)
    : sc_module(name),
      timing(load_memory_timing(o.memory_timing_path.empty() ? default_memory_timing_path()
                                                             : o.memory_timing_path)),
      checkers(o.sim.check_protocol, proto::ProtocolChecker::Policy::error, true),
      dense_homes_(o.functional != nullptr),
      program_(prog),
      functional_(o.functional) {
  make_blocks(cfg, tech, o);
  check_blocks_fit(prog, cfg);
  make_control_block(prog, cfg, tech, o);
  bind_sockets();
  map_buffer_addresses(prog);
  if (o.functional) attach_functional(prog, *o.functional);
  if (!o.trace.vcd_path.empty()) attach_tracer(prog, o.trace, tech);
  record_occupancy();
}

void Accelerator::make_blocks(const AcceleratorConfig& cfg, const Technology& tech,
                              const RunOptions& o) {
  pe_array = std::make_unique<PeArray>("pe_array", cfg, tech, o.sim);
  softmax = std::make_unique<SoftmaxEngine>("softmax", cfg, tech, o.sim);
  layer_norm = std::make_unique<LayerNormEngine>("layer_norm", cfg, tech, o.sim);
  activation_buffer =
      SramBuffer::from_config("activation_buffer", proto::Buffer::activation, cfg, tech, o.sim);
  weight_buffer = SramBuffer::from_config("weight_buffer", proto::Buffer::weight, cfg, tech, o.sim);
  mask_buffer = SramBuffer::from_config("mask_buffer", proto::Buffer::mask, cfg, tech, o.sim);
  if (o.top.main_memory == TopOptions::MainMemory::internal)
    main_memory = std::make_unique<MainMemory>("main_memory", cfg.main_memory, tech, timing, o.sim,
                                               MainMemoryOptions{});
  else
    memory_socket = std::make_unique<tlm::tlm_initiator_socket<>>("memory_socket");
  DmaOptions dma_options;
  dma_options.burst_bytes = o.top.dma_burst_bytes;
  dma_options.seed_buffers_on_store = true;  // the data path computes the values (dma.hpp)
  dma = std::make_unique<Dma>("dma", cfg, tech, timing, o.sim, dma_options);
  if (o.memory_trace) dma->set_memory_trace(o.memory_trace);
}

AcceleratorBlocks Accelerator::blocks() const {
  AcceleratorBlocks b;
  b.pe_array = pe_array.get();
  b.softmax = softmax.get();
  b.layer_norm = layer_norm.get();
  b.activation_buffer = activation_buffer.get();
  b.weight_buffer = weight_buffer.get();
  b.mask_buffer = mask_buffer.get();
  b.main_memory = main_memory.get();
  b.dma = dma.get();
  b.control_block = control_block.get();
  b.occupancy = &occupancy;
  return b;
}

uint64_t part_homes_end_bytes(const Program& prog, bool dense_homes) {
  constexpr uint64_t kHomeAlignBytes = 4096;  // part homes start on 4 KiB boundaries
  const PartTable table = part_table(prog, dense_homes);
  if (table.parts.empty()) return 0;
  // The homes follow one another: the last one ends the map. Its home holds at most its dense
  // image (a functional run's reservation; a performance run's is its sparse size).
  const PartInfo& last = table.parts.back();
  const Tensor& tensor = prog.tensors[last.tensor];
  const uint64_t dense_bytes =
      zero_free_bytes(part_elements(tensor, part_grid(tensor), last.index), prog.info.word_bits, 0);
  const uint64_t end = last.address + std::max(dense_bytes, last.data_bytes) + last.mask_bytes;
  return (end + kHomeAlignBytes - 1) / kHomeAlignBytes * kHomeAlignBytes;
}

uint64_t Accelerator::homes_end_bytes() const {
  return part_homes_end_bytes(control_block->issued_program(), dense_homes_);
}

// Every tile job's block must fit on chip at once (the compiler splits ops into such blocks;
// a hand-written stream may not).
void Accelerator::check_blocks_fit(const Program& prog, const AcceleratorConfig& cfg) const {
  for (const auto& op : prog.ops) {
    const BlockGrid grid = block_grid(op);
    const WorkingSet ws = block_working_set(prog, op, block_box(op, grid, 0));
    if (ws.activation_bytes <= activation_buffer->capacity_bytes() &&
        ws.weight_bytes <= weight_buffer->capacity_bytes() &&
        ws.mask_bytes <= mask_buffer->capacity_bytes())
      continue;
    throw InputError(fmt::format(
        "{}: op '{}' needs {} activation bytes, {} weight bytes and {} mask bytes on chip at "
        "once (one block of {}x{}x{}x{} tiles), but the activation buffer holds {}, the weight "
        "buffer {} and the mask buffer {} bytes; use larger buffers or a smaller batch / "
        "sequence",
        cfg.source, op.name, ws.activation_bytes, ws.weight_bytes, ws.mask_bytes, grid.size[0],
        grid.size[1], grid.size[2], grid.size[3], activation_buffer->capacity_bytes(),
        weight_buffer->capacity_bytes(), mask_buffer->capacity_bytes()));
  }
}

void Accelerator::make_control_block(const Program& prog, const AcceleratorConfig& cfg,
                                     const Technology& tech, const RunOptions& o) {
  ControlOptions control_options = o.control;
  control_options.dense_homes = o.functional != nullptr;
  control_options.batch_duplicates = o.sim.published.batch_duplicates;
  control_block = std::make_unique<ControlBlock>("control_block", prog, cfg, tech, control_options,
                                                 *activation_buffer, *weight_buffer, *mask_buffer);
}

// Each initiator/target pair, through a protocol checker with --check-protocol.
void Accelerator::bind_sockets() {
  auto& c = checkers;
  c.connect(control_block->pe_socket, pe_array->target, "check_pe");
  c.connect(control_block->softmax_socket, softmax->target, "check_softmax");
  c.connect(control_block->layer_norm_socket, layer_norm->target, "check_layer_norm");
  c.connect(control_block->dma_socket, dma->socket, "check_dma");
  if (main_memory)
    c.connect(dma->memory_socket, main_memory->socket, "check_dma_memory");
  else  // exported: the user binds Accelerator::memory_socket
    c.connect(dma->memory_socket, *memory_socket, "check_dma_memory");
  c.connect(dma->activation_socket, activation_buffer->socket, "check_dma_activation");
  c.connect(dma->weight_socket, weight_buffer->socket, "check_dma_weight");
  c.connect(dma->mask_socket, mask_buffer->socket, "check_dma_mask");
  // The engines' operand, partial-sum and output traffic goes through the buffers' ports.
  c.connect(pe_array->activation_port, activation_buffer->core_socket, "check_pe_activation");
  c.connect(pe_array->weight_port, weight_buffer->core_socket, "check_pe_weight");
  c.connect(pe_array->mask_port, mask_buffer->core_socket, "check_pe_mask");
  for (UnitPoolEngine* engine : {static_cast<UnitPoolEngine*>(softmax.get()),
                                 static_cast<UnitPoolEngine*>(layer_norm.get())}) {
    const std::string prefix = std::string("check_") + engine->basename();
    c.connect(engine->activation_port, activation_buffer->core_socket,
              (prefix + "_activation").c_str());
    c.connect(engine->weight_port, weight_buffer->core_socket, (prefix + "_weight").c_str());
    c.connect(engine->mask_port, mask_buffer->core_socket, (prefix + "_mask").c_str());
  }
}

// The DMA's buffer-side addresses: a command names its part by its home (main-memory address);
// the part's placement in the data or mask buffer is its buffer address.
void Accelerator::map_buffer_addresses(const Program& prog) {
  auto homes = std::make_shared<std::unordered_map<uint64_t, ResidentKey>>();
  for (const Tensor& t : prog.tensors) {
    const PartGrid grid = part_grid(t);
    for (uint32_t part = 0; part < grid.parts(); ++part)
      homes->emplace(control_block->part_address(t.id, part), ResidentKey{t.id, part});
  }
  const std::array<const SramBuffer*, 3> buffers = {activation_buffer.get(), weight_buffer.get(),
                                                    mask_buffer.get()};
  dma->set_buffer_addresses([homes, buffers](proto::Buffer buffer, uint64_t memory_address,
                                             const proto::TransferExt& ext) -> Dma::Placement {
    const SramBuffer& in = *buffers[static_cast<size_t>(buffer)];
    if (!in.tracks_placements()) return {};  // a performance run: no lookup per transfer
    const auto found = homes->find(memory_address);
    if (found == homes->end() || found->second.tensor != ext.tensor) return {};
    const uint64_t address = in.address_of(found->second);
    if (address == SramBuffer::kNotPlaced) return {};
    return {address, in.placed_bytes(found->second)};
  });
}

// Values flow: the data path, and DynaTran as its own module.
void Accelerator::attach_functional(const Program& prog, const FunctionalInput& input) {
  datapath = std::make_unique<Datapath>(prog, input);
  dynatran = std::make_unique<DynaTranUnit>("dynatran", input.prune);
  checkers.connect(pe_array->dynatran_port, dynatran->target, "check_pe_dynatran");
  checkers.connect(softmax->dynatran_port, dynatran->target, "check_softmax_dynatran");
  pe_array->set_datapath(datapath.get());
  softmax->set_datapath(datapath.get());
  layer_norm->set_datapath(datapath.get());
  // Main memory holds contents: every weight and embedding part's image at its home; the
  // transfers carry the parts' bytes (spills and stores write them, loads read them back).
  memory_contents = std::make_unique<SparseDataStore>();
  if (main_memory) main_memory->attach_store(memory_contents.get());
  // The buffers hold the bytes the DMA writes into them, at the parts' placements.
  SramBuffer* buffers[] = {activation_buffer.get(), weight_buffer.get(), mask_buffer.get()};
  for (size_t b = 0; b < buffer_contents.size(); ++b) {
    buffer_contents[b] = std::make_unique<SparseDataStore>();
    buffers[b]->attach_store(buffer_contents[b].get());
  }
  control_block->set_contents(datapath.get());
  std::vector<unsigned char> image;
  for (const Tensor& t : prog.tensors) {
    if (t.cls == TensorClass::activation) continue;
    const PartGrid grid = part_grid(t);
    for (uint32_t part = 0; part < grid.parts(); ++part) {
      uint64_t data_bytes = 0, mask_bytes = 0;
      datapath->pack_part(t.id, part, image, data_bytes, mask_bytes);
      const uint64_t address = control_block->part_address(t.id, part);
      memory_contents->write(address, image.data(), image.size());
      initial_image.emplace_back(address, image.size());
    }
  }
}

void Accelerator::attach_tracer(const Program& prog, const TraceOptions& trace,
                                const Technology& tech) {
  if (!main_memory)
    throw InputError(
        "accelerator: a VCD trace (--vcd) needs the internal main memory; with "
        "TopOptions::MainMemory::external trace the memory model itself");
  TracedBlocks traced;
  traced.program = &prog;
  traced.control = control_block.get();
  traced.pe_array = pe_array.get();
  traced.softmax = softmax.get();
  traced.layer_norm = layer_norm.get();
  traced.activation_buffer = activation_buffer.get();
  traced.weight_buffer = weight_buffer.get();
  traced.mask_buffer = mask_buffer.get();
  traced.dma = dma.get();
  traced.main_memory = main_memory.get();
  traced.dynatran = dynatran.get();
  tracer = std::make_unique<Tracer>("trace", trace, traced, tech.clock_mhz);
  Tracer* traced_by = tracer.get();
  control_block->on_event = [traced_by](uint64_t now) { traced_by->on_control_event(now); };
}

void Accelerator::prepare_next_run() {
  for (SramBuffer* buffer : {activation_buffer.get(), weight_buffer.get(), mask_buffer.get()})
    buffer->clear_residency();
  if (functional_) {
    datapath = std::make_unique<Datapath>(program_, *functional_);
    pe_array->set_datapath(datapath.get());
    softmax->set_datapath(datapath.get());
    layer_norm->set_datapath(datapath.get());
    control_block->set_contents(datapath.get());
  }
  control_block->reset_for_next_run();
}

// Buffer occupancy samples for the timeline, taken at control-block events (after the tracer's
// handler, when there is one).
void Accelerator::record_occupancy() {
  auto previous = std::move(control_block->on_event);
  SramBuffer *activation = activation_buffer.get(), *weight = weight_buffer.get(),
             *mask = mask_buffer.get();
  control_block->on_event = [previous, activation, weight, mask, this](uint64_t now) {
    if (previous) previous(now);
    occupancy.push_back({now, activation->used_bytes(), weight->used_bytes(), mask->used_bytes()});
  };
}

// ---------------------------------------------------------------- programmable top

RunOptions ProgrammableAccelerator::programmable(RunOptions opts) {
  opts.top.main_memory = TopOptions::MainMemory::external;
  opts.control.wait_for_start = true;
  return opts;
}

ProgrammableAccelerator::ProgrammableAccelerator(sc_core::sc_module_name name, const Program& prog,
                                                 const AcceleratorConfig& cfg,
                                                 const Technology& tech, const RunOptions& opts)
    : sc_module(name),
      accelerator(
          std::make_unique<Accelerator>("accelerator", prog, cfg, tech, programmable(opts))),
      registers("registers", tech.clock_mhz),
      fetch_socket_("fetch_socket"),
      clock_mhz_(tech.clock_mhz) {
  std::ostringstream text;
  write_program(text, prog);
  program_text_ = text.str();
  accelerator->checkers.connect(fetch_socket_, accelerator->dma->fetch_socket, "check_fetch");
  SC_THREAD(sequence);
}

// The instruction stream from main memory through the DMA, parsed and compared with the
// program the accelerator was built for.
registers::ErrorCode ProgrammableAccelerator::fetch_and_check(uint64_t* fetch_cycles) {
  const uint64_t start_cycle = proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
  const uint64_t base = registers.program_base();
  const uint32_t length = registers.program_length();
  if (length == 0) return registers::ErrorCode::bad_length;
  std::string bytes(length, '\0');
  proto::TransferExt ext;
  ext.kind = proto::TransferKind::fetch_program;
  ext.data_bytes = length;
  ext.contents = true;
  tlm::tlm_generic_payload gp;
  proto::set_transfer(gp, false, base, length);
  gp.set_data_ptr(reinterpret_cast<unsigned char*>(bytes.data()));
  gp.set_extension(&ext);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  fetch_socket_->b_transport(gp, delay);
  gp.clear_extension(&ext);
  sc_core::wait(delay);
  *fetch_cycles = proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_) - start_cycle;
  if (gp.is_response_error()) return registers::ErrorCode::fetch_refused;
  std::string parsed;
  try {
    std::istringstream in(bytes);
    std::ostringstream out;
    write_program(out, read_program(in, fmt::format("main memory at 0x{:x}", base)));
    parsed = out.str();
  } catch (const InputError&) {
    return registers::ErrorCode::not_a_program;
  }
  return parsed == program_text_ ? registers::ErrorCode::none : registers::ErrorCode::other_program;
}

void ProgrammableAccelerator::sequence() {
  bool ran = false;
  for (;;) {
    sc_core::wait(registers.start_requested());
    const registers::Status status = registers.status();
    if (status == registers::Status::fetching || status == registers::Status::running)
      continue;  // START while busy: ignored
    const uint64_t start_cycle = proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
    registers.set_status(registers::Status::fetching);
    uint64_t fetch_cycles = 0;
    const registers::ErrorCode fetched = fetch_and_check(&fetch_cycles);
    const uint64_t fetched_cycle = proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
    if (fetched != registers::ErrorCode::none) {
      registers.finish(fetched, fetched_cycle - start_cycle, fetch_cycles);
      continue;
    }
    if (ran) accelerator->prepare_next_run();  // the same program again, from a clean state
    ran = true;
    registers.set_status(registers::Status::running);
    ControlBlock& control = *accelerator->control_block;
    control.start();
    sc_core::wait(control.run_ended());
    const ControlStats& stats = control.stats();
    registers.finish(stats.finished ? registers::ErrorCode::none : registers::ErrorCode::run_failed,
                     stats.end_cycle - start_cycle, fetch_cycles);
  }
}

}  // namespace acceltran

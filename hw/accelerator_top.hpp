// The top-level sc_module: owns every block, binds their TLM sockets, checks that each op's
// blocks fit on chip, attaches the VCD tracer (with --vcd) and records the buffer occupancy
// the timeline needs. The report is assembled afterwards from the blocks' own statistics by
// build_report (report_builder.hpp).
#pragma once
#include <systemc>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "acceltran/hw/accelerator.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/layer_norm_engine.hpp"
#include "acceltran/hw/compute/pe_array.hpp"
#include "acceltran/hw/compute/softmax_engine.hpp"
#include "acceltran/hw/control/control_block.hpp"
#include "acceltran/hw/control/registers.hpp"
#include "acceltran/hw/control/tracer.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/memory_timing.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "acceltran/tlm/protocol_checker.hpp"

namespace acceltran {

// The blocks a report is built from (build_report, report_builder.hpp), so that any top level
// holding them gets the report: not owned; main_memory may be null (an external memory model:
// the main-memory figures then come from the DMA's traffic and the configured memory's
// bandwidth and access energy); occupancy (buffer bytes at control-block events: cycle,
// activation, weight, mask) may be null (the timeline's buffer columns are then 0).
struct AcceleratorBlocks {
  const PeArray* pe_array = nullptr;
  const SoftmaxEngine* softmax = nullptr;
  const LayerNormEngine* layer_norm = nullptr;
  const SramBuffer *activation_buffer = nullptr, *weight_buffer = nullptr, *mask_buffer = nullptr;
  const MainMemory* main_memory = nullptr;
  const Dma* dma = nullptr;
  const ControlBlock* control_block = nullptr;
  const std::vector<std::array<uint64_t, 4>>* occupancy = nullptr;
};

// Main-memory map (docs/memory.md, "Address map"): the end of the part homes of `prog` (a 4 KiB
// boundary; dense_homes: a functional run's reservation), where the program region may begin.
uint64_t part_homes_end_bytes(const Program& prog, bool dense_homes);

class Accelerator : public sc_core::sc_module {
 public:
  // Throws InputError when an op's block does not fit in the buffers or the VCD cannot be made.
  Accelerator(sc_core::sc_module_name name, const Program& prog, const AcceleratorConfig& cfg,
              const Technology& tech, const RunOptions& opts);

  // Each block member is named as its SystemC instance ("pe_array", "activation_buffer", ...).
  const MemoryTimingTable timing;
  std::unique_ptr<PeArray> pe_array;
  std::unique_ptr<SoftmaxEngine> softmax;
  std::unique_ptr<LayerNormEngine> layer_norm;
  std::unique_ptr<SramBuffer> activation_buffer, weight_buffer, mask_buffer;
  std::unique_ptr<MainMemory> main_memory;  // null with TopOptions::MainMemory::external
  // With an external main memory (TopOptions): the DMA's memory side, exported; bind it to the
  // memory's target socket before sc_start (null with the internal memory).
  std::unique_ptr<tlm::tlm_initiator_socket<>> memory_socket;
  std::unique_ptr<Dma> dma;
  std::unique_ptr<ControlBlock> control_block;
  std::unique_ptr<Tracer> tracer;          // only with --vcd
  std::unique_ptr<Datapath> datapath;      // only in functional runs
  std::unique_ptr<DynaTranUnit> dynatran;  // only in functional runs
  // Functional runs: the main-memory image the run starts from, every weight and embedding
  // part's bytes at its home (initial_image: those ranges, address and bytes). The internal
  // memory holds it; an external memory must be given these bytes before sc_start.
  std::unique_ptr<SparseDataStore> memory_contents;
  std::vector<std::pair<uint64_t, uint64_t>> initial_image;
  // Functional runs: the buffers' contents (proto::Buffer order: activation, weight, mask), each
  // attached to its buffer; a part's bytes sit at its placement (SramBuffer::address_of), where
  // the DMA writes them (docs/memory.md "Address map"). Null in performance runs.
  std::array<std::unique_ptr<SparseDataStore>, 3> buffer_contents;
  // Buffer occupancy at each control-block event: cycle, activation, weight, mask bytes.
  std::vector<std::array<uint64_t, 4>> occupancy;
  // Between each initiator/target pair with --check-protocol (prints its summary when destroyed).
  proto::ProtocolCheckers checkers;
  // The blocks above, for build_report.
  AcceleratorBlocks blocks() const;
  // Main-memory map (docs/memory.md, "Address map"): every part's home lies in
  // [0, homes_end_bytes()), a 4 KiB boundary; the program region (a programmable top's
  // instruction stream) and anything else a platform keeps in the memory go at or above it.
  uint64_t homes_end_bytes() const;
  // Before the same program runs again (ProgrammableAccelerator's next START): the buffers
  // emptied, a fresh data path (functional runs: RunOptions::functional must still be alive),
  // the control block's scoreboard, residency and statistics as at elaboration. The other
  // blocks' statistics and the occupancy samples go on over the runs.
  void prepare_next_run();

 private:
  // Elaboration steps, in the order the constructor runs them.
  void make_blocks(const AcceleratorConfig& cfg, const Technology& tech, const RunOptions& opts);
  void check_blocks_fit(const Program& prog, const AcceleratorConfig& cfg) const;
  void make_control_block(const Program& prog, const AcceleratorConfig& cfg, const Technology& tech,
                          const RunOptions& opts);
  void bind_sockets();
  void map_buffer_addresses(const Program& prog);
  void attach_functional(const Program& prog, const FunctionalInput& input);
  void attach_tracer(const Program& prog, const TraceOptions& trace, const Technology& tech);
  void record_occupancy();
  bool dense_homes_ = false;  // functional runs: homes reserved at the parts' dense sizes
  const Program& program_;
  const FunctionalInput* functional_ = nullptr;
};

// A CPU-programmable accelerator (docs/architecture.md, "Driving the accelerator from a CPU"):
// the Accelerator with an external main memory (accelerator->memory_socket, bind it to the
// platform's memory or bus) and a register block (register_socket(), `interrupt`). Its
// scoreboard and part homes are built at elaboration for `prog` (as a configured instance of
// the hardware); nothing issues until the CPU writes START. Then it fetches PROGRAM_LENGTH bytes
// at PROGRAM_BASE through the DMA (a FETCH_PROGRAM command), parses them as an instruction
// stream (docs/isa.md text form) and checks that it is `prog` (ERROR_CODE other_program
// otherwise), runs it, sets STATUS and the cycle counters and raises the interrupt. Every later
// START runs it again (Accelerator::prepare_next_run: empty buffers, a fresh scoreboard and data
// path). A different program cannot run: the control block, its scoreboard and the part homes
// are elaborated for `prog` and SystemC builds no module after elaboration.
class ProgrammableAccelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ProgrammableAccelerator);
  // `opts.top.main_memory` is taken as external; `opts.control.wait_for_start` as set.
  ProgrammableAccelerator(sc_core::sc_module_name name, const Program& prog,
                          const AcceleratorConfig& cfg, const Technology& tech,
                          const RunOptions& opts);

  std::unique_ptr<Accelerator> accelerator;
  AcceleratorRegisters registers;
  tlm_utils::simple_target_socket<AcceleratorRegisters>& register_socket() {
    return registers.socket;
  }
  tlm::tlm_initiator_socket<>& memory_socket() { return *accelerator->memory_socket; }
  // The instruction stream the CPU must place in memory: `prog` in its text form.
  const std::string& program_text() const { return program_text_; }

 private:
  void sequence();  // SC_THREAD: START -> fetch -> check -> run -> interrupt
  registers::ErrorCode fetch_and_check(uint64_t* fetch_cycles);
  static RunOptions programmable(RunOptions opts);
  tlm_utils::simple_initiator_socket<ProgrammableAccelerator> fetch_socket_;  // -> DMA
  std::string program_text_;
  double clock_mhz_;
};

}  // namespace acceltran

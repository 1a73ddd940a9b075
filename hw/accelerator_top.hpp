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
#include "acceltran/hw/control/tracer.hpp"
#include "acceltran/hw/memory/data_store.hpp"
#include "acceltran/hw/memory/dma.hpp"
#include "acceltran/hw/memory/main_memory.hpp"
#include "acceltran/hw/memory/memory_timing.hpp"
#include "acceltran/hw/memory/sram_buffer.hpp"
#include "acceltran/tlm/protocol_checker.hpp"

namespace acceltran {

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
  std::unique_ptr<MainMemory> main_memory;
  std::unique_ptr<Dma> dma;
  std::unique_ptr<ControlBlock> control_block;
  std::unique_ptr<Tracer> tracer;                    // only with --vcd
  std::unique_ptr<Datapath> datapath;                // only in functional runs
  std::unique_ptr<DynaTranUnit> dynatran;            // only in functional runs
  std::unique_ptr<SparseDataStore> memory_contents;  // only in functional runs
  // Buffer occupancy at each control-block event: cycle, activation, weight, mask bytes.
  std::vector<std::array<uint64_t, 4>> occupancy;
  // Between each initiator/target pair with --check-protocol (prints its summary when destroyed).
  proto::ProtocolCheckers checkers;

 private:
  // Elaboration steps, in the order the constructor runs them.
  void make_blocks(const AcceleratorConfig& cfg, const Technology& tech, const RunOptions& opts);
  void check_blocks_fit(const Program& prog, const AcceleratorConfig& cfg) const;
  void make_control_block(const Program& prog, const AcceleratorConfig& cfg, const Technology& tech,
                          const RunOptions& opts);
  void bind_sockets();
  void attach_functional(const Program& prog, const FunctionalInput& input);
  void attach_tracer(const Program& prog, const TraceOptions& trace, const Technology& tech);
  void record_occupancy();
};

}  // namespace acceltran

// The PE array: P PEs x lanes_per_pe MAC lanes (M MACs each), with per lane a pre-sparsity
// unit, a post-sparsity (DynaTran) unit and an operand FIFO, and per PE one dataflow module.
// ONE sc_module; the lanes are a pool of plain arrays (no module or thread per lane).
//
// TLM (tlm/protocol.hpp): target socket `target` accepts tile jobs (TileJobExt: the descriptor
// of tlm/tile_job.hpp, kind matmul, elementwise or activation). The target never waits: it
// reserves lanes at/after the request time and returns delay = completion of the last tile -
// now. The same job can be dispatched without a kernel through dispatch() (cycle numbers in,
// cycle numbers out).
// Initiator sockets `activation_port`, `weight_port`, `mask_port` carry the job's operand,
// partial-sum and output traffic to the buffers' ports (optional: unbound in block testbenches,
// then ports are free).
//
// The profile picks one of two timing policies once, at construction (pe_array_timing.hpp):
//
// Hardware profile, PeArrayBlockTiming (docs/compute.md, "Mapping and data movement (default
// profile)"): the tiles of a buffer-level block, in loop order, form runs of the innermost loop;
// when there are fewer runs than lanes the piece mapper cuts runs into pieces; the block takes
// the lanes free the earliest, and neighbouring lanes hold the same piece of neighbouring runs.
// Partial sums stay in the lane along a run over k; an operand stays in the lane FIFO along a
// run that does not change it if the tile fits the FIFO depth; the dataflow module of a PE
// broadcasts an operand to the lanes of the PE when their runs differ only in an index the
// operand does not depend on. Pieces are evaluated in closed form (no per-tile loop); the
// grouping of a block's tiles into jobs does not change the result. Its parts are plain C++
// units: LoopNest (loop_nest.hpp), PieceMapper (piece_mapper.hpp), operand traffic
// (operand_traffic.hpp) and lane assignment (lane_assignment.hpp).
//
// Reference profile, PeArrayTileTiming (docs/compute.md, "Tile-to-lane mapping (reference
// profile)"): the tiles of a job, in loop-order enumeration, are dealt round-robin over the
// lanes of one PE (each PE keeps a persistent next-lane pointer, so the tile after the last one
// of a job goes to the following lane). With job.pe = -1 the array deals chunks of lanes_per_pe
// consecutive tiles: each chunk goes to the least-loaded PE (the PE whose lanes all become free
// the earliest; ties: lowest index). All state is per tile and persists across jobs, so a group
// of N tiles gives exactly the cycles and energy of N one-tile jobs issued at the same request
// cycle. See docs/compute.md for timing and energy formulas.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/compute/compute_conventions.hpp"
#include "acceltran/hw/compute/datapath_port.hpp"
#include "acceltran/hw/compute/dynatran_unit.hpp"
#include "acceltran/hw/compute/unit_change_log.hpp"
#include "acceltran/hw/energy.hpp"
#include "acceltran/hw/sim_options.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

class PeArrayTiming;

// Result of one dispatch (one TileJobExt).
struct LaneJobResult {
  uint64_t request_cycle = 0;
  uint64_t first_start_cycle = 0;  // earliest start of a tile of the job
  uint64_t completion_cycle = 0;   // completion of the last tile (lane released)
  uint64_t tiles = 0;
  uint64_t busy_unit_cycles = 0;     // sum over tiles of lane cycles held
  uint64_t operand_reads = 0;        // operand tiles read from the buffers
  uint64_t operand_reads_saved = 0;  // FIFO reuse + dataflow broadcast
  uint64_t activation_read_bytes = 0, weight_read_bytes = 0, mask_read_bytes = 0;
};

struct PeArrayStats {
  uint64_t jobs = 0, tiles = 0, matmul_tiles = 0, ewise_tiles = 0, act_tiles = 0;
  uint64_t dense_macs = 0;      // tb*tx*ty*ty per matmul tile (padded)
  uint64_t effectual_macs = 0;  // multiplications with both operands non-zero
  // Operand tiles (matmul: 2 per tile; EWISE: 2; ACT: 1).
  uint64_t operand_reads = 0;                            // read from a buffer
  uint64_t fifo_reuse_first = 0, fifo_reuse_second = 0;  // kept in the lane FIFO
  uint64_t broadcast_first = 0, broadcast_second = 0;    // shared by the dataflow module
  uint64_t operand_reads_saved() const {
    return fifo_reuse_first + fifo_reuse_second + broadcast_first + broadcast_second;
  }
  // Hardware profile: partial sums written back / read again, final output tiles, parameters.
  uint64_t psum_write_bytes = 0, psum_read_bytes = 0, psum_in_lane_tiles = 0;
  uint64_t reduction_additions = 0;  // partial-sum tile additions across lanes (k-runs cut)
  uint64_t output_write_bytes = 0, param_read_bytes = 0;
  // Buffer traffic of the reads performed (zero-free data + 1-bit masks) and its energy:
  // access_energy_nj * sqrt(MB) per 64-byte block (blocks rounded up per operand tile).
  uint64_t activation_read_bytes = 0, weight_read_bytes = 0, mask_read_bytes = 0;
  uint64_t activation_read_blocks = 0, weight_read_blocks = 0, mask_read_blocks = 0;
  double activation_read_nj = 0, weight_read_nj = 0, mask_read_nj = 0;
  // Busy-cycle energy of the units (units = lanes for the first four, PEs for dataflow).
  EnergyStats lanes, pre_sparsity, post_sparsity, fifo, dataflow;
  uint64_t last_completion_cycle = 0;

  double buffer_read_nj() const { return activation_read_nj + weight_read_nj + mask_read_nj; }
  double compute_nj() const {
    return lanes.total_nj() + pre_sparsity.total_nj() + post_sparsity.total_nj() + fifo.total_nj() +
           dataflow.total_nj();
  }
  double dynamic_nj() const {
    return lanes.dynamic_nj + pre_sparsity.dynamic_nj + post_sparsity.dynamic_nj + fifo.dynamic_nj +
           dataflow.dynamic_nj;
  }
  double leakage_nj() const {
    return lanes.leakage_nj + pre_sparsity.leakage_nj + post_sparsity.leakage_nj + fifo.leakage_nj +
           dataflow.leakage_nj;
  }
  // Compute energy plus the operand-read energy. If the integrator charges the operand reads
  // to its SramBuffer models (from the *_read_bytes), use compute_nj() to avoid counting twice.
  double total_nj() const { return compute_nj() + buffer_read_nj(); }
};

// Per-tile timing of a lane job (exposed for tests and for the control block's planning).
struct LaneTileTiming {
  uint64_t held = 0;       // cycles the lane is reserved
  uint64_t charged = 0;    // cycles charged to the lane's energy
  uint64_t pre_walk = 0;   // pre-sparsity busy cycles (0 in the reference profile)
  uint64_t post_walk = 0;  // post-sparsity busy cycles (0 in the reference profile)
  uint64_t effectual_macs = 0;
};

class PeArray : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<PeArray> target;
  tlm_utils::simple_initiator_socket_optional<PeArray> activation_port, weight_port, mask_port;
  // Functional runs: finalised output tiles of pruned ops go to the DynaTran module.
  tlm_utils::simple_initiator_socket_optional<PeArray> dynatran_port;

  // Lane pipeline depth (docs/compute.md, "Timing of one tile").
  static constexpr uint64_t kPipelineDepth = 5;
  static constexpr uint64_t kDataflowCycles = 2;  // dataflow module busy per operand tile routed

  PeArray(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
          const SimOptions& opts);
  ~PeArray() override;

  // Direct call: runs the job's tiles from `request_cycle`. Fills job.busy_unit_cycles and
  // job.operand_reads_saved (accumulated). `effectual_macs`, when not null, holds one count per
  // tile (from the DynaTran masks, dynatran::effectual_macs) and replaces the sparsity estimate.
  LaneJobResult dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                         const uint64_t* effectual_macs = nullptr);
  const LaneJobResult& last_result() const { return last_; }

  // Timing of one tile of a job of `kind` (matmul, elementwise, activation) under the given
  // sparsities; `effectual_macs`, when not null, replaces the sparsity estimate.
  LaneTileTiming tile_timing(proto::JobKind kind, double activation_sparsity,
                             double weight_sparsity,
                             const uint64_t* effectual_macs = nullptr) const;

  // Stats with energies; elapsed_cycles > 0 with SimOptions::leakage_when_idle adds the idle
  // leakage of every unit over that run length.
  PeArrayStats stats(uint64_t elapsed_cycles = 0) const;

  uint64_t lane_free_cycle(int pe, int lane) const {
    return lane_free_[static_cast<size_t>(pe) * lanes_ + lane];
  }
  // The lanes written since the VCD tracer last took them (off until it watches).
  UnitChangeLog& lane_changes() { return lane_free_.log(); }
  int pes() const { return pes_; }
  int lanes_per_pe() const { return lanes_; }
  const AcceleratorConfig& config() const { return cfg_; }
  int fifo_depth_words() const { return fifo_words_; }
  // Functional runs: tile jobs compute their values in `datapath` and take their per-tile
  // effectual MACs and zero fractions from the data (hardware profile only).
  void set_datapath(TileJobDatapath* datapath);

 private:
  friend class PeArrayBlockTiming;
  friend class PeArrayTileTiming;
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);

  AcceleratorConfig cfg_;
  Technology tech_;
  SimOptions opts_;
  ComputeConventions conventions_;
  int pes_, lanes_, macs_;
  int fifo_words_;
  ModuleFigures lane_fig_;  // one lane of mac_per_lane MACs with the configured non-linearity
  // Lane pool (index pe * lanes + lane): the cycle each lane is free; per PE, the cycle all its
  // lanes are free. Writes to lane_free_ are noted for the tracer (unit_change_log.hpp).
  WatchedCycles lane_free_;
  std::vector<uint64_t> pe_free_;
  tlm::tlm_generic_payload port_gp_;  // buffer-port transactions
  // Counters (integers; energies are derived in stats()).
  PeArrayStats counts_;
  uint64_t lane_busy_cycles_ = 0, pre_sparsity_busy_cycles_ = 0, post_sparsity_busy_cycles_ = 0;
  uint64_t fifo_busy_cycles_ = 0, dataflow_busy_cycles_ = 0;
  LaneJobResult last_;
  TileJobDatapath* datapath_ = nullptr;
  std::unique_ptr<DynaTranPort<tlm_utils::simple_initiator_socket_optional<PeArray>>> post_;
  std::unique_ptr<PeArrayTiming> timing_;  // chosen once from the profile
};

}  // namespace acceltran

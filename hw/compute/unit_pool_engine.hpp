// Base of the softmax and layer-norm engines: a pool of identical modules, units_per_pe per PE,
// inside ONE sc_module. One tile job takes exactly one module.
//
// Module choice: job.pe >= 0 -> the earliest-free module of that PE (ties: lowest index);
// job.pe = -1 -> the earliest-free module of the whole array (a lazy min-heap, O(log units)
// per tile, allocation-free). State persists across jobs, so a group of N tiles equals N
// one-tile jobs at the same request cycle. TLM as in tlm/protocol.hpp (socket `target`).
// Hardware profile (ComputeConventions::buffer_port_traffic): tile t of a job is issued at
// request + t / issue_width; every tile reads its input tile (and gamma/beta for layer norm) and
// writes its output tile through the buffers' ports (optional initiator sockets; unbound in
// block testbenches).
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>
#include <systemc>
#include <utility>
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

struct UnitJobResult {
  uint64_t request_cycle = 0, first_start_cycle = 0, completion_cycle = 0;
  uint64_t tiles = 0, busy_unit_cycles = 0;
  uint64_t activation_read_bytes = 0, mask_read_bytes = 0;  // inputs read (zero-free + mask)
};

struct UnitPoolStats {
  uint64_t jobs = 0, tiles = 0;
  uint64_t activation_read_bytes = 0, mask_read_bytes = 0;
  uint64_t output_write_bytes = 0, param_read_bytes = 0;  // hardware profile
  EnergyStats units;                                      // busy cycles and energy of the modules
  uint64_t last_completion_cycle = 0;
  double dynamic_nj() const { return units.dynamic_nj; }
  double leakage_nj() const { return units.leakage_nj; }
  double total_nj() const { return units.total_nj(); }
};

struct UnitTileTiming {
  uint64_t held = 0, charged = 0;
};

class UnitPoolEngine : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<UnitPoolEngine> target;
  tlm_utils::simple_initiator_socket_optional<UnitPoolEngine> activation_port, weight_port,
      mask_port;
  // Functional runs: outputs of pruned ops (softmax probabilities) go to the DynaTran module.
  tlm_utils::simple_initiator_socket_optional<UnitPoolEngine> dynatran_port;
  // Functional runs: jobs compute their row panels in `datapath` (hardware profile only).
  void set_datapath(TileJobDatapath* datapath);

  UnitJobResult dispatch(proto::TileJobExt& job, uint64_t request_cycle);
  const UnitJobResult& last_result() const { return last_; }
  virtual UnitTileTiming tile_timing(double activation_sparsity) const = 0;
  UnitPoolStats stats(uint64_t elapsed_cycles = 0) const;

  int units_per_pe() const { return per_pe_; }
  int pes() const { return pes_; }
  uint64_t unit_free_cycle(int pe, int unit) const {
    return free_[static_cast<size_t>(pe) * per_pe_ + unit];
  }
  // The units written since the VCD tracer last took them (off until it watches).
  UnitChangeLog& unit_changes() { return changes_; }
  const AcceleratorConfig& config() const { return cfg_; }

 protected:
  UnitPoolEngine(sc_core::sc_module_name name, const AcceleratorConfig& cfg, const Technology& tech,
                 const SimOptions& opts, int units_per_pe, const ModuleFigures& figures,
                 proto::JobKind accepted);
  AcceleratorConfig cfg_;
  Technology tech_;
  SimOptions opts_;
  ComputeConventions conventions_;

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  size_t pick_unit(int pe);
  // Published bug: each tile takes every free module of the lowest PE that has one.
  void reserve_all_free_modules(const proto::TileJobExt& job, uint64_t request_cycle,
                                const UnitTileTiming& tile, UnitJobResult& result);
  // One module per tile (earliest free), tiles issued issue_width per cycle when paced.
  void reserve_one_module_per_tile(const proto::TileJobExt& job, uint64_t request_cycle,
                                   const UnitTileTiming& tile, UnitJobResult& result);
  // Input, output and parameter bytes through the buffers' ports; the job ends when its
  // modules and the ports are done.
  void move_through_ports(proto::TileJobExt& job, uint64_t request_cycle, double output_sparsity,
                          const UnitTileTiming& tile, UnitJobResult& result);

  int pes_, per_pe_;
  ModuleFigures fig_;
  proto::JobKind accepted_;
  std::vector<uint64_t> free_;
  UnitChangeLog changes_;                            // every write to free_ is noted
  std::vector<std::pair<uint64_t, uint32_t>> heap_;  // (free cycle, unit), min-heap, lazy
  UnitPoolStats counts_;
  uint64_t busy_cycles_ = 0;
  UnitJobResult last_;
  tlm::tlm_generic_payload port_gp_;
  TileJobDatapath* datapath_ = nullptr;
  std::unique_ptr<DynaTranPort<tlm_utils::simple_initiator_socket_optional<UnitPoolEngine>>> post_;
};

}  // namespace acceltran

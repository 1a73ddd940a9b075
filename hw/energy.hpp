// Busy-cycle energy accounting shared by the compute engines.
// Energy of one busy cycle = (dynamic + leakage) mW / f MHz = nJ. Blocks count busy cycles in
// integers while they run and convert to energy only when stats are read, so the result does
// not depend on how jobs were grouped (group dispatch == per-tile dispatch, bit for bit).
#pragma once
#include <cstdint>

#include "acceltran/config/accelerator_config.hpp"

namespace acceltran {

struct EnergyStats {
  uint64_t busy_cycles = 0;    // sum over the units of this class of cycles charged
  uint64_t units = 0;          // number of units of this class in the block
  double dynamic_nj = 0;       // busy_cycles x dynamic mW / MHz
  double leakage_nj = 0;       // busy_cycles x leakage mW / MHz (+ idle leakage when enabled)
  double idle_leakage_nj = 0;  // part of leakage_nj charged for idle cycles (leakage_when_idle)
  double total_nj() const { return dynamic_nj + leakage_nj; }

  EnergyStats& operator+=(const EnergyStats& o) {
    busy_cycles += o.busy_cycles;
    units += o.units;
    dynamic_nj += o.dynamic_nj;
    leakage_nj += o.leakage_nj;
    idle_leakage_nj += o.idle_leakage_nj;
    return *this;
  }
};

// Energy of `busy_cycles` charged to `units` modules with figures `fig`. When
// `leakage_when_idle` is set and elapsed_cycles > 0, the idle cycles of every unit
// (units x elapsed - busy, never negative) also draw leakage; otherwise idle units are
// power-gated (published model).
inline EnergyStats energy_of(const Technology& tech, const ModuleFigures& fig, uint64_t busy_cycles,
                             uint64_t units, bool leakage_when_idle, uint64_t elapsed_cycles) {
  EnergyStats e;
  e.busy_cycles = busy_cycles;
  e.units = units;
  e.dynamic_nj = static_cast<double>(busy_cycles) * tech.nj_per_cycle(fig.dynamic_mw);
  e.leakage_nj = static_cast<double>(busy_cycles) * tech.nj_per_cycle(fig.leakage_mw);
  if (leakage_when_idle && elapsed_cycles > 0) {
    const uint64_t capacity = units * elapsed_cycles;
    const uint64_t idle = capacity > busy_cycles ? capacity - busy_cycles : 0;
    e.idle_leakage_nj = static_cast<double>(idle) * tech.nj_per_cycle(fig.leakage_mw);
    e.leakage_nj += e.idle_leakage_nj;
  }
  return e;
}

}  // namespace acceltran

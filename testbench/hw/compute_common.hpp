// Shared helpers of the compute-engine testbenches ([compute]).
#pragma once
#include <string>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/compiler/tiling.hpp"
#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/control/tile_job_builder.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace compute_test {

inline const std::string& models() {
  static const std::string dir = ACCELTRAN_MODELS_DIR_FOR_TESTS;
  return dir;
}
inline const acceltran::Technology& tech() {
  static const acceltran::Technology t = acceltran::load_technology(models() + "/technology.yaml");
  return t;
}
inline acceltran::AcceleratorConfig accel(const std::string& name) {
  static const acceltran::DesignSpace space =
      acceltran::load_design_space(models() + "/design_space.yaml");
  return acceltran::load_accelerator(models() + "/accelerators/" + name + ".yaml", space, tech());
}
inline acceltran::Op make_op(acceltran::OpKind kind, int64_t b, int64_t m, int64_t k, int64_t n,
                             const acceltran::TileShape& tile, bool batched = false,
                             acceltran::OpId id = 0) {
  acceltran::Op op;
  op.id = id;
  op.kind = kind;
  op.b = b;
  op.m = m;
  op.k = kind == acceltran::OpKind::matmul ? k : 1;
  op.n = n;
  op.b_operand_batched = batched;
  acceltran::set_tile_grid(op, tile);
  return op;
}

// A tile job of `count` tiles of `op` from `first` (default sparsities 0.5 / 0.5).
inline acceltran::proto::TileJobExt job_for(const acceltran::Op& op, acceltran::Opcode opc,
                                            uint64_t first, uint64_t count, int pe,
                                            const acceltran::LoopOrder& order) {
  acceltran::proto::TileJobExt j;
  acceltran::describe_op(op, opc, order, j);
  j.first_tile = first;
  j.tile_count = count;
  j.pe = pe;
  return j;
}

}  // namespace compute_test

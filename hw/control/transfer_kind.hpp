// The memory opcodes of the compiled program as TLM transfer kinds (tlm/tile_job.hpp), and back.
#pragma once
#include <stdexcept>
#include <string>

#include "acceltran/compiler/isa.hpp"
#include "acceltran/tlm/tile_job.hpp"

namespace acceltran {

inline proto::TransferKind transfer_kind(Opcode opcode) {
  switch (opcode) {
    case Opcode::LOAD_W:
      return proto::TransferKind::load_weights;
    case Opcode::LOAD_A:
      return proto::TransferKind::load_activations;
    case Opcode::STORE_A:
      return proto::TransferKind::store_activations;
    case Opcode::SPILL:
      return proto::TransferKind::spill;
    case Opcode::STORE_M:
      return proto::TransferKind::store_output;
    default:
      throw std::invalid_argument(std::string("opcode ") + to_string(opcode) +
                                  " is not a memory transfer");
  }
}

inline Opcode opcode_of(proto::TransferKind kind) {
  switch (kind) {
    case proto::TransferKind::load_weights:
      return Opcode::LOAD_W;
    case proto::TransferKind::load_activations:
      return Opcode::LOAD_A;
    case proto::TransferKind::store_activations:
      return Opcode::STORE_A;
    case proto::TransferKind::spill:
      return Opcode::SPILL;
    case proto::TransferKind::store_output:
      return Opcode::STORE_M;
    case proto::TransferKind::fetch_program:  // a programmable top's fetch, not an instruction
      break;
  }
  return Opcode::LOAD_W;
}

}  // namespace acceltran

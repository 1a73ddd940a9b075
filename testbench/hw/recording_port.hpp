// A transfer port for residency-manager testbenches: records each transfer the manager starts
// as (opcode, global part, keep_pin) instead of moving data. Tag [memory][residency].
#pragma once
#include <tuple>
#include <vector>

#include "acceltran/hw/control/residency.hpp"

namespace acceltran::memtest {

constexpr uint64_t kKiB = 1024;

struct RecordingPort : TransferPort {
  std::vector<std::tuple<Opcode, uint32_t, bool>> transfers;
  void start_transfer(Opcode opcode, uint32_t part, uint64_t, bool keep_pin) override {
    transfers.emplace_back(opcode, part, keep_pin);
  }
};

}  // namespace acceltran::memtest

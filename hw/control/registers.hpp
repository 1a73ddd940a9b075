// The register block of the CPU-programmable accelerator (ProgrammableAccelerator,
// hw/accelerator_top.hpp; docs/architecture.md, "Register map").
//
// A TLM target of 32-bit registers at byte offsets (little-endian, accesses of exactly 4 bytes
// at a multiple of 4; b_transport, nb_transport_fw with early completion, transport_dbg):
//
//   0x00 ID                RO  0x41435452 ("ACTR")
//   0x04 CONTROL           WO  bit 0: START (fetch the program, run it; again after a run
//                              ends); ignored while fetching or running; other bits ignored
//   0x08 STATUS            RO  0 idle, 1 fetching, 2 running, 3 done, 4 error
//   0x0c ERROR_CODE        RO  registers::ErrorCode (0: none)
//   0x10 PROGRAM_BASE_LO   RW  main-memory byte address of the instruction stream, bits 31:0
//   0x14 PROGRAM_BASE_HI   RW  bits 63:32
//   0x18 PROGRAM_LENGTH    RW  bytes of the instruction stream (its text form, docs/isa.md)
//   0x1c INTERRUPT_ENABLE  RW  bit 0: raise `interrupt` when a run ends
//   0x20 INTERRUPT_STATUS  RW  bit 0: a run ended (done or error); write 1 to clear
//   0x24 CYCLES_LO         RO  cycles from START to the end of the last run, bits 31:0
//   0x28 CYCLES_HI         RO  bits 63:32
//   0x2c FETCH_CYCLES      RO  cycles of the program fetch (part of CYCLES)
//
// Each access takes one accelerator cycle. Offsets past 0x2c: TLM_ADDRESS_ERROR_RESPONSE; a
// write to a read-only register: TLM_COMMAND_ERROR_RESPONSE; a length other than 4, a
// misaligned address or a streaming width below 4: TLM_BURST_ERROR_RESPONSE; partial byte
// enables: TLM_BYTE_ENABLE_ERROR_RESPONSE. `interrupt` is high while INTERRUPT_STATUS and
// INTERRUPT_ENABLE share a set bit.
#pragma once
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <array>
#include <cstdint>

namespace acceltran {

namespace registers {
constexpr uint64_t kId = 0x00, kControl = 0x04, kStatus = 0x08, kErrorCode = 0x0c,
                   kProgramBaseLow = 0x10, kProgramBaseHigh = 0x14, kProgramLength = 0x18,
                   kInterruptEnable = 0x1c, kInterruptStatus = 0x20, kCyclesLow = 0x24,
                   kCyclesHigh = 0x28, kFetchCycles = 0x2c;
constexpr uint64_t kBytes = 0x30;  // the register block's address range [0, kBytes)
constexpr uint32_t kIdValue = 0x41435452;
constexpr uint32_t kStart = 1, kInterruptBit = 1;
enum class Status : uint32_t { idle = 0, fetching = 1, running = 2, done = 3, error = 4 };
enum class ErrorCode : uint32_t {
  none = 0,
  fetch_refused = 1,  // the memory answered the program fetch with an error response
  not_a_program = 2,  // the bytes fetched do not parse as an instruction stream (docs/isa.md)
  other_program = 3,  // a valid stream, but not the program the accelerator was built for
  run_failed = 4,     // the run stopped before the end (deadlock; see the report)
  // 5: not raised any more (earlier, a START after a run); a later START runs the program again
  already_ran = 5,
  bad_length = 6,  // PROGRAM_LENGTH 0
};
}  // namespace registers

class AcceleratorRegisters : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<AcceleratorRegisters> socket;  // from the CPU
  sc_core::sc_signal<bool> interrupt;

  SC_HAS_PROCESS(AcceleratorRegisters);
  AcceleratorRegisters(sc_core::sc_module_name name, double clock_mhz);

  // For the sequencer (ProgrammableAccelerator):
  const sc_core::sc_event& start_requested() const { return start_; }
  uint64_t program_base() const;
  uint32_t program_length() const { return value(registers::kProgramLength); }
  registers::Status status() const {
    return static_cast<registers::Status>(value(registers::kStatus));
  }
  void set_status(registers::Status status);
  // The run ended: status done, or error with `code`; the cycle counters; INTERRUPT_STATUS.
  void finish(registers::ErrorCode code, uint64_t cycles, uint64_t fetch_cycles);

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& gp);
  tlm::tlm_response_status check(const tlm::tlm_generic_payload& gp) const;
  void write_register(uint64_t offset, uint32_t v);
  uint32_t value(uint64_t offset) const { return values_[offset / 4]; }
  void update_interrupt();

  double clock_mhz_;
  std::array<uint32_t, registers::kBytes / 4> values_{};
  sc_core::sc_event start_, interrupt_changed_;
  void drive_interrupt();  // SC_METHOD: writes `interrupt` (one writer process)
};

}  // namespace acceltran

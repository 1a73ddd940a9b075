#include "acceltran/hw/control/registers.hpp"

#include <algorithm>
#include <cstring>

#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

using namespace registers;

AcceleratorRegisters::AcceleratorRegisters(sc_core::sc_module_name name, double clock_mhz)
    : sc_module(name), socket("socket"), interrupt("interrupt"), clock_mhz_(clock_mhz) {
  values_[kId / 4] = kIdValue;
  socket.register_b_transport(this, &AcceleratorRegisters::b_transport);
  socket.register_nb_transport_fw(this, &AcceleratorRegisters::nb_transport_fw);
  socket.register_transport_dbg(this, &AcceleratorRegisters::transport_dbg);
  SC_METHOD(drive_interrupt);
  sensitive << interrupt_changed_;
  dont_initialize();
}

uint64_t AcceleratorRegisters::program_base() const {
  return uint64_t{value(kProgramBaseHigh)} << 32 | value(kProgramBaseLow);
}

void AcceleratorRegisters::set_status(Status status) {
  values_[kStatus / 4] = static_cast<uint32_t>(status);
}

void AcceleratorRegisters::finish(ErrorCode code, uint64_t cycles, uint64_t fetch_cycles) {
  set_status(code == ErrorCode::none ? Status::done : Status::error);
  values_[kErrorCode / 4] = static_cast<uint32_t>(code);
  values_[kCyclesLow / 4] = static_cast<uint32_t>(cycles);
  values_[kCyclesHigh / 4] = static_cast<uint32_t>(cycles >> 32);
  values_[kFetchCycles / 4] = static_cast<uint32_t>(fetch_cycles);
  values_[kInterruptStatus / 4] |= kInterruptBit;
  update_interrupt();
}

void AcceleratorRegisters::update_interrupt() {
  interrupt_changed_.notify(sc_core::SC_ZERO_TIME);
}

void AcceleratorRegisters::drive_interrupt() {
  interrupt.write((value(kInterruptStatus) & value(kInterruptEnable)) != 0);
}

// The checks of the register map (registers.hpp), in the base protocol's order.
tlm::tlm_response_status AcceleratorRegisters::check(const tlm::tlm_generic_payload& gp) const {
  const uint64_t address = gp.get_address();
  if (address >= kBytes) return tlm::TLM_ADDRESS_ERROR_RESPONSE;
  const tlm::tlm_command command = gp.get_command();
  if (command != tlm::TLM_READ_COMMAND && command != tlm::TLM_WRITE_COMMAND)
    return tlm::TLM_COMMAND_ERROR_RESPONSE;
  const bool writable = address == kControl || address == kProgramBaseLow ||
                        address == kProgramBaseHigh || address == kProgramLength ||
                        address == kInterruptEnable || address == kInterruptStatus;
  if (command == tlm::TLM_WRITE_COMMAND && !writable) return tlm::TLM_COMMAND_ERROR_RESPONSE;
  if (gp.get_data_length() != 4 || address % 4 != 0 || gp.get_streaming_width() < 4)
    return tlm::TLM_BURST_ERROR_RESPONSE;
  if (!proto::byte_enables_accepted(gp, false)) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
  if (!gp.get_data_ptr()) return tlm::TLM_GENERIC_ERROR_RESPONSE;
  return tlm::TLM_OK_RESPONSE;
}

void AcceleratorRegisters::write_register(uint64_t offset, uint32_t v) {
  switch (offset) {
    case kControl:
      if (v & kStart) start_.notify(sc_core::SC_ZERO_TIME);
      return;
    case kInterruptStatus:  // write 1 to clear
      values_[offset / 4] &= ~v;
      update_interrupt();
      return;
    case kInterruptEnable:
      values_[offset / 4] = v;
      update_interrupt();
      return;
    default:
      values_[offset / 4] = v;
  }
}

void AcceleratorRegisters::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const tlm::tlm_response_status status = check(gp);
  if (status != tlm::TLM_OK_RESPONSE) {
    gp.set_response_status(status);
    return;
  }
  uint32_t v = 0;
  if (gp.is_write()) {
    std::memcpy(&v, gp.get_data_ptr(), 4);
    write_register(gp.get_address(), v);
  } else {
    v = value(gp.get_address());
    std::memcpy(gp.get_data_ptr(), &v, 4);
  }
  delay += proto::cycles_to_time(1, clock_mhz_);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

tlm::tlm_sync_enum AcceleratorRegisters::nb_transport_fw(tlm::tlm_generic_payload& gp,
                                                         tlm::tlm_phase& phase,
                                                         sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(g, d); });
}

// Reads any register; writes none (a debugger must not start a run).
unsigned int AcceleratorRegisters::transport_dbg(tlm::tlm_generic_payload& gp) {
  if (!gp.is_read() || !gp.get_data_ptr() || gp.get_address() >= kBytes) return 0;
  const uint64_t address = gp.get_address();
  const unsigned bytes =
      static_cast<unsigned>(std::min<uint64_t>(gp.get_data_length(), kBytes - address));
  std::memcpy(gp.get_data_ptr(), reinterpret_cast<const unsigned char*>(values_.data()) + address,
              bytes);
  return bytes;
}

}  // namespace acceltran

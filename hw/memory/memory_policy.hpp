// How the memory blocks model a profile (docs/memory.md §2.1b, §3.6 and §4), chosen once at
// elaboration from the profile: the buffers and the DMA ask these flags and never test the
// profile.
#pragma once
#include "acceltran/config/profile.hpp"

namespace acceltran {

struct MemoryPolicy {
  // Buffers: `banks` ports of bank_width_bytes each, busy for fractional cycles so that many
  // small transfers cost what one large one does (docs/memory.md §2.1b). Off: one port of
  // technology buffers.port_bandwidth_gbps, each access a whole number of cycles.
  bool banked_buffer_ports = true;
  // DMA: each command waits memory.yaml dma.setup_cycles. Off: no setup latency (the published
  // simulator has none).
  bool dma_setup_latency = true;

  // The hardware profile: both on; the reference profile: both off.
  static MemoryPolicy for_profile(Profile profile) {
    const bool hardware = profile == Profile::hardware;
    return MemoryPolicy{/*banked_buffer_ports=*/hardware, /*dma_setup_latency=*/hardware};
  }
};

}  // namespace acceltran

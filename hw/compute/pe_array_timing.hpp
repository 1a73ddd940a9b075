// The PE array's timing policy: how a tile job's tiles become lane reservations, operand reads
// and buffer-port traffic. One policy per profile, chosen once when the array is built
// (make_pe_array_timing); the array asks it once per job.
//   PeArrayBlockTiming (pe_array_block_timing.hpp): hardware profile, buffer-level blocks.
//   PeArrayTileTiming (pe_array_tile_timing.hpp): reference profile, tiles dealt per lane.
#pragma once
#include <cstdint>
#include <memory>

#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

class PeArray;
struct LaneJobResult;
struct ComputeConventions;

class PeArrayTiming {
 public:
  virtual ~PeArrayTiming() = default;
  // Runs the job's tiles from `request_cycle`; `effectual_macs`, when not null, holds one count
  // per tile. Updates the array's lanes and counters and the job's reported fields.
  virtual LaneJobResult dispatch(proto::TileJobExt& job, uint64_t request_cycle,
                                 const uint64_t* effectual_macs) = 0;
};

std::unique_ptr<PeArrayTiming> make_pe_array_timing(PeArray& array,
                                                    const ComputeConventions& conventions);

}  // namespace acceltran

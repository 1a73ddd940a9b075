#include "acceltran/hw/compute/lane_assignment.hpp"

#include <algorithm>
#include <stdexcept>

namespace acceltran {

void earliest_free_lanes(const std::vector<uint64_t>& lane_free_cycle, size_t count,
                         std::vector<uint32_t>& order_scratch, std::vector<uint32_t>& lanes) {
  auto earlier = [&lane_free_cycle](uint32_t a, uint32_t b) {
    return lane_free_cycle[a] != lane_free_cycle[b] ? lane_free_cycle[a] < lane_free_cycle[b]
                                                    : a < b;
  };
  const auto count_end = order_scratch.begin() + static_cast<long>(count);
  if (count < order_scratch.size())
    std::nth_element(order_scratch.begin(), count_end, order_scratch.end(), earlier);
  lanes.assign(order_scratch.begin(), count_end);
  std::sort(lanes.begin(), lanes.end());
}

int RoundRobinLanes::pick_pe(int requested, const std::vector<uint64_t>& pe_free_cycle) {
  if (requested >= 0) {
    if (requested >= pes_) throw std::invalid_argument("PeArray: job.pe out of range");
    return requested;
  }
  if (chunk_tiles_left_ == 0) {
    int best = 0;
    for (int pe = 1; pe < pes_; ++pe)
      if (pe_free_cycle[static_cast<size_t>(pe)] < pe_free_cycle[static_cast<size_t>(best)])
        best = pe;
    chunk_pe_ = best;
    chunk_tiles_left_ = lanes_per_pe_;
  }
  --chunk_tiles_left_;
  return chunk_pe_;
}

}  // namespace acceltran

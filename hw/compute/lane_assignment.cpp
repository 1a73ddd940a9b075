#include "acceltran/hw/compute/lane_assignment.hpp"

#include <algorithm>
#include <stdexcept>

namespace acceltran {

namespace {

// Earlier free cycle first; ties: lower index (a strict total order, so selections are unique).
struct EarlierFree {
  const std::vector<uint64_t>& free_cycle;
  bool operator()(uint32_t a, uint32_t b) const {
    return free_cycle[a] != free_cycle[b] ? free_cycle[a] < free_cycle[b] : a < b;
  }
};

}  // namespace

void select_earliest_free(const std::vector<uint64_t>& lane_free_cycle, const uint64_t* counts,
                          int n, std::vector<uint32_t>& order_scratch, uint64_t* last_free_cycles) {
  const EarlierFree earlier{lane_free_cycle};
  auto range_end = order_scratch.end();
  for (int i = 0; i < n; ++i) {
    // The counts[i] earliest lanes lie within the previous (larger) selection.
    const auto last = order_scratch.begin() + static_cast<long>(counts[i] - 1);
    std::nth_element(order_scratch.begin(), last, range_end, earlier);
    last_free_cycles[i] = lane_free_cycle[*last];
    range_end = last + 1;
  }
}

void take_earliest_lanes(const std::vector<uint32_t>& order_scratch, size_t count,
                         std::vector<uint32_t>& lanes) {
  lanes.assign(order_scratch.begin(), order_scratch.begin() + static_cast<long>(count));
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

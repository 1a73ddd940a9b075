// Chip area model (compute + on-chip buffers, no main memory) from the synthesis figures of
// models/technology.yaml:
//   PE   = lanes x (lane + pre-sparsity + post-sparsity + FIFO)
//          + softmax_per_pe x softmax(tile) + layer_norm_per_pe x layer_norm(tile)
//          + dataflow + DMA
//   chip = PEs x PE + sum over buffers of area_per_mb x MB
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "acceltran/config/accelerator_config.hpp"

namespace acceltran {

struct AreaBreakdown {
  // Whole-chip totals per block class, um^2 (already multiplied by PEs and lanes).
  double mac_lanes_um2 = 0, pre_sparsity_um2 = 0, post_sparsity_um2 = 0, fifo_um2 = 0;
  double softmax_um2 = 0, layer_norm_um2 = 0, dataflow_um2 = 0, dma_um2 = 0;
  double activation_buffer_um2 = 0, weight_buffer_um2 = 0, mask_buffer_um2 = 0;
  double per_pe_um2 = 0;   // one PE
  double compute_um2 = 0;  // PEs x PE
  double buffers_um2 = 0;  // sum of the three buffers
  double total_um2 = 0;    // compute + buffers

  double total_mm2() const { return total_um2 * 1e-6; }
  // (block name, um^2) rows in a fixed order, for reports.
  std::vector<std::pair<std::string, double>> rows() const;
};

AreaBreakdown compute_area(const AcceleratorConfig& cfg, const Technology& tech);

}  // namespace acceltran

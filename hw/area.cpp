#include "acceltran/hw/area.hpp"

namespace acceltran {

AreaBreakdown compute_area(const AcceleratorConfig& cfg, const Technology& tech) {
  AreaBreakdown a;
  const double pes = cfg.pe;
  const double lanes = static_cast<double>(cfg.total_lanes());
  const int tile = cfg.tile.x;
  a.mac_lanes_um2 = lanes * tech.lane(cfg.mac_per_lane, cfg.non_linearity).area_um2;
  a.pre_sparsity_um2 = lanes * tech.pre_sparsity.area_um2;
  a.post_sparsity_um2 = lanes * tech.post_sparsity.area_um2;
  a.fifo_um2 = lanes * tech.fifo.area_um2;
  a.softmax_um2 = pes * cfg.softmax_per_pe * tech.softmax_for(tile).area_um2;
  a.layer_norm_um2 = pes * cfg.layer_norm_per_pe * tech.layer_norm_for(tile).area_um2;
  a.dataflow_um2 = pes * tech.dataflow.area_um2;
  a.dma_um2 = pes * tech.dma.area_um2;
  a.compute_um2 = a.mac_lanes_um2 + a.pre_sparsity_um2 + a.post_sparsity_um2 + a.fifo_um2 +
                  a.softmax_um2 + a.layer_norm_um2 + a.dataflow_um2 + a.dma_um2;
  a.per_pe_um2 = a.compute_um2 / pes;
  a.activation_buffer_um2 =
      cfg.activation_buffer_mb * tech.buffers.at("activation").area_um2_per_mb;
  a.weight_buffer_um2 = cfg.weight_buffer_mb * tech.buffers.at("weight").area_um2_per_mb;
  a.mask_buffer_um2 = cfg.mask_buffer_mb * tech.buffers.at("mask").area_um2_per_mb;
  a.buffers_um2 = a.activation_buffer_um2 + a.weight_buffer_um2 + a.mask_buffer_um2;
  a.total_um2 = a.compute_um2 + a.buffers_um2;
  return a;
}

std::vector<std::pair<std::string, double>> AreaBreakdown::rows() const {
  return {{"mac_lanes", mac_lanes_um2},
          {"pre_sparsity", pre_sparsity_um2},
          {"post_sparsity", post_sparsity_um2},
          {"fifo", fifo_um2},
          {"softmax", softmax_um2},
          {"layer_norm", layer_norm_um2},
          {"dataflow", dataflow_um2},
          {"dma", dma_um2},
          {"activation_buffer", activation_buffer_um2},
          {"weight_buffer", weight_buffer_um2},
          {"mask_buffer", mask_buffer_um2},
          {"total", total_um2}};
}

}  // namespace acceltran

#include "acceltran/hw/compute/dynatran_unit.hpp"

#include <algorithm>

#include "acceltran/hw/compute/dynatran.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

DynaTranUnit::DynaTranUnit(sc_core::sc_module_name name, const PruneMode& mode)
    : sc_core::sc_module(name), target("target"), mode_(mode), tau_q_(fx::from_double(mode.tau)) {
  target.register_b_transport(this, &DynaTranUnit::b_transport);
  target.register_nb_transport_fw(this, &DynaTranUnit::nb_transport_fw);
}

tlm::tlm_sync_enum DynaTranUnit::nb_transport_fw(int id, tlm::tlm_generic_payload& gp,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this, id](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(id, g, d); });
}

uint64_t DynaTranUnit::apply(const PruneMode& mode, int32_t tau_q, int32_t* data, PruneTileExt& e,
                             std::vector<int>& idx) {
  e.mask.assign(static_cast<size_t>(e.rows) * static_cast<size_t>(e.cols), 0);
  e.zeros = 0;
  e.topk_cycles = 0;
  uint64_t pruned = 0;
  const bool topk = mode.kind == PruneMode::Kind::topk && e.segment > 0;
  for (int r = 0; r < e.rows; ++r) {
    int32_t* x = data + static_cast<size_t>(r) * static_cast<size_t>(e.ld);
    uint8_t* m = e.mask.data() + static_cast<size_t>(r) * static_cast<size_t>(e.cols);
    if (!topk) {
      for (int c = 0; c < e.cols; ++c) {
        const bool keep = fx::abs_wide(x[c]) > tau_q;
        pruned += !keep && x[c] != 0;
        if (!keep) x[c] = 0;
        m[c] = keep;
      }
    } else {
      for (int s0 = 0; s0 < e.cols; s0 += e.segment) {
        const int n = std::min(e.segment, e.cols - s0);
        idx.resize(static_cast<size_t>(n));
        for (int c = 0; c < n; ++c) idx[static_cast<size_t>(c)] = s0 + c;
        const int keep = static_cast<int>(std::min<int64_t>(mode.topk, n));
        // The k largest |x| (ties: the leftmost), as the sorting network orders them.
        std::stable_sort(idx.begin(), idx.end(),
                         [&](int a, int b) { return fx::abs_wide(x[a]) > fx::abs_wide(x[b]); });
        for (int t = keep; t < n; ++t) {
          const int c = idx[static_cast<size_t>(t)];
          pruned += x[c] != 0;
          x[c] = 0;
        }
        for (int c = s0; c < s0 + n; ++c) m[c] = x[c] != 0;
      }
    }
    for (int c = 0; c < e.cols; ++c) e.zeros += m[c] == 0;
  }
  if (topk)  // one network per segment width, segments of the block pipelined row by row
    e.topk_cycles =
        dynatran::topk_latency_cycles(e.rows * ((e.cols + e.segment - 1) / e.segment), e.segment);
  return pruned;
}

void DynaTranUnit::prune(int32_t* data, PruneTileExt& e) {
  const uint64_t pruned = apply(mode_, tau_q_, data, e, idx_);
  ++stats_.blocks;
  stats_.elements += static_cast<uint64_t>(e.rows) * static_cast<uint64_t>(e.cols);
  stats_.zeros += e.zeros;
  stats_.pruned += pruned;
  stats_.topk_cycles += e.topk_cycles;
}

StandalonePruner::StandalonePruner(const PruneMode& mode)
    : mode_(mode), tau_q_(fx::from_double(mode.tau)) {}

uint64_t StandalonePruner::prune_block(int32_t* data, int rows, int cols, int ld, int segment) {
  ext_.rows = rows;
  ext_.cols = cols;
  ext_.ld = ld;
  ext_.segment = segment;
  DynaTranUnit::apply(mode_, tau_q_, data, ext_, idx_);
  return ext_.zeros;
}

void DynaTranUnit::b_transport(int, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  (void)delay;  // the lanes' post-sparsity walk times the comparators (charged by the PeArray)
  auto* e = gp.get_extension<PruneTileExt>();
  if (!e) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  if (gp.get_command() != tlm::TLM_WRITE_COMMAND) {
    gp.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    return;
  }
  const uint64_t need =
      e->rows > 0 && e->cols > 0 ? (static_cast<uint64_t>(e->rows - 1) * e->ld + e->cols) * 4 : 0;
  if (!gp.get_data_ptr() || gp.get_data_length() < need || e->cols > e->ld) {
    gp.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  if (!proto::byte_enables_accepted(gp, false)) {
    gp.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  prune(reinterpret_cast<int32_t*>(gp.get_data_ptr()), *e);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace acceltran

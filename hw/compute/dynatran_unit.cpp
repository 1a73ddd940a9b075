#include "acceltran/hw/compute/dynatran_unit.hpp"

#include <algorithm>
#include <cstring>

#include "acceltran/hw/compute/dynatran.hpp"
#include "acceltran/hw/compute/fixed_point.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran {

DynaTranUnit::DynaTranUnit(sc_core::sc_module_name name, const PruneMode& mode)
    : sc_core::sc_module(name), target("target"), mode_(mode) {
  target.register_b_transport(this, &DynaTranUnit::b_transport);
  target.register_nb_transport_fw(this, &DynaTranUnit::nb_transport_fw);
}

tlm::tlm_sync_enum DynaTranUnit::nb_transport_fw(int id, tlm::tlm_generic_payload& gp,
                                                 tlm::tlm_phase& phase, sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this, id](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(id, g, d); });
}

BlockPrune DynaTranUnit::mode_rule(const PruneMode& mode, int segment) {
  BlockPrune r;
  r.kind = mode.kind == PruneMode::Kind::topk && segment > 0 ? BlockPrune::Kind::topk
                                                             : BlockPrune::Kind::threshold;
  r.tau_q = fx::from_double(mode.tau);
  r.k = mode.topk;
  r.segment = segment;
  return r;
}

namespace {

// One row segment of n values at x: zeros all but the rule's kept values; returns the values
// set to zero.
uint64_t topk_segment(const BlockPrune& rule, int32_t* x, int n, std::vector<int>& idx) {
  if (rule.above_kth && rule.k >= n) return 0;  // published: a row of at most k values stays
  idx.resize(static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) idx[static_cast<size_t>(c)] = c;
  const int keep = static_cast<int>(std::min<int64_t>(rule.k, n));
  // The k largest |x| (ties: the leftmost), as the sorting network orders them.
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int a, int b) { return fx::abs_wide(x[a]) > fx::abs_wide(x[b]); });
  uint64_t pruned = 0;
  if (rule.above_kth) {  // keep |x| > the k-th largest |x|
    const int64_t kth = keep > 0 ? fx::abs_wide(x[idx[static_cast<size_t>(keep - 1)]]) : -1;
    for (int c = 0; c < n; ++c)
      if (fx::abs_wide(x[c]) <= kth) {
        pruned += x[c] != 0;
        x[c] = 0;
      }
    return pruned;
  }
  for (int t = keep; t < n; ++t) {
    const int c = idx[static_cast<size_t>(t)];
    pruned += x[c] != 0;
    x[c] = 0;
  }
  return pruned;
}

}  // namespace

uint64_t DynaTranUnit::apply(const BlockPrune& rule, int32_t* data, PruneTileExt& e,
                             std::vector<int>& idx) {
  e.mask.assign(static_cast<size_t>(e.rows) * static_cast<size_t>(e.cols), 0);
  e.zeros = 0;
  e.topk_cycles = 0;
  uint64_t pruned = 0;
  const bool topk = rule.kind == BlockPrune::Kind::topk && rule.segment > 0;
  for (int r = 0; r < e.rows; ++r) {
    int32_t* x = data + static_cast<size_t>(r) * static_cast<size_t>(e.ld);
    uint8_t* m = e.mask.data() + static_cast<size_t>(r) * static_cast<size_t>(e.cols);
    if (topk) {
      for (int s0 = 0; s0 < e.cols; s0 += rule.segment)
        pruned += topk_segment(rule, x + s0, std::min(rule.segment, e.cols - s0), idx);
      for (int c = 0; c < e.cols; ++c) m[c] = x[c] != 0;
    } else if (rule.kind == BlockPrune::Kind::threshold) {
      for (int c = 0; c < e.cols; ++c) {
        const bool keep = fx::abs_wide(x[c]) > rule.tau_q;
        pruned += !keep && x[c] != 0;
        if (!keep) x[c] = 0;
        m[c] = keep;
      }
    } else {
      for (int c = 0; c < e.cols; ++c) m[c] = x[c] != 0;
    }
    for (int c = 0; c < e.cols; ++c) e.zeros += m[c] == 0;
  }
  if (topk)  // one network per segment width, segments of the block pipelined row by row
    e.topk_cycles = dynatran::topk_latency_cycles(
        e.rows * ((e.cols + rule.segment - 1) / rule.segment), rule.segment);
  return pruned;
}

void DynaTranUnit::prune(int32_t* data, PruneTileExt& e) {
  const uint64_t pruned = apply(e.has_rule ? e.rule : mode_rule(mode_, e.segment), data, e, idx_);
  ++stats_.blocks;
  stats_.elements += static_cast<uint64_t>(e.rows) * static_cast<uint64_t>(e.cols);
  stats_.zeros += e.zeros;
  stats_.pruned += pruned;
  stats_.topk_cycles += e.topk_cycles;
}

StandalonePruner::StandalonePruner(const PruneMode& mode) : mode_(mode) {}

uint64_t StandalonePruner::prune_block(int32_t* data, int rows, int cols, int ld, int segment) {
  ext_.rows = rows;
  ext_.cols = cols;
  ext_.ld = ld;
  ext_.segment = segment;
  DynaTranUnit::apply(DynaTranUnit::mode_rule(mode_, segment), data, ext_, idx_);
  return ext_.zeros;
}

uint64_t StandalonePruner::prune_block(int32_t* data, int rows, int cols, int ld,
                                       const BlockPrune& rule) {
  ext_.rows = rows;
  ext_.cols = cols;
  ext_.ld = ld;
  ext_.segment = rule.segment;
  DynaTranUnit::apply(rule, data, ext_, idx_);
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
  // A target must not change the initiator's data array on a WRITE (IEEE 1666-2011 14.13):
  // the comparators work on the unit's own copy of the tile; the mask in the extension is the
  // answer (the engine zeroes the values it marks, DynaTranPort::send).
  tile_.resize(need / 4);
  if (need > 0) std::memcpy(tile_.data(), gp.get_data_ptr(), need);
  prune(tile_.data(), *e);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace acceltran

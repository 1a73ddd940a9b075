// The DynaTran module: the post-sparsity comparators of the MAC lanes (and of the softmax
// modules' outputs) as one sc_module. In a functional run (`simulate --functional`) every
// finalised output tile of a pruned op is sent here as a TLM write whose data pointer holds the
// tile's Q4.16 words (rows x cols, row stride ld words); the module copies the tile into its own
// storage (a target leaves a WRITE's data array as it is), zeroes |x| <= tau there (or, with
// --prune topk, keeps the k largest |x| of every row segment), writes the tile's 1-bit mask
// (1 = kept) into the extension and reports its zeros. The engine's port (DynaTranPort) then
// zeroes the values the mask drops in its own tile: the same words as pruning in place. Its time is
// the lanes' post-sparsity walk, charged by the PeArray (ceil(tile elements / M) cycles,
// hw/compute/pe_array.cpp); top-k's sorting network adds topk_latency_cycles per row segment group
// (docs/dynatran.md). The target takes b_transport and nb_transport_fw (BEGIN_REQ answered
// TLM_COMPLETED with the delay unchanged, proto::serve_nb_transport_fw); byte enables: none or all
// enabled (a partial array: TLM_BYTE_ENABLE_ERROR_RESPONSE).
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>

#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "acceltran/hw/compute/datapath_port.hpp"

namespace acceltran {

struct PruneTileExt : tlm::tlm_extension<PruneTileExt> {
  int rows = 0, cols = 0, ld = 0;  // block shape, row stride in words
  int segment = 0;                 // top-k row segment (0: DynaTran)
  bool has_rule = false;           // true: apply `rule` (a policy's) instead of the module's mode
  BlockPrune rule;
  // Filled by the module:
  uint64_t zeros = 0;         // zeros in the block after pruning
  uint64_t topk_cycles = 0;   // sorting-network cycles (top-k only)
  std::vector<uint8_t> mask;  // rows x cols, 1 = kept
  tlm::tlm_extension_base* clone() const override { return new PruneTileExt(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override {
    *this = static_cast<const PruneTileExt&>(e);
  }
};

struct DynaTranStats {
  uint64_t blocks = 0, elements = 0, zeros = 0, pruned = 0;  // pruned: non-zeros set to zero
  uint64_t topk_cycles = 0;
  double sparsity() const {
    return elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0;
  }
};

class DynaTranUnit : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<DynaTranUnit> target;  // PE array, softmax engine
  DynaTranUnit(sc_core::sc_module_name name, const PruneMode& mode);
  const DynaTranStats& stats() const { return stats_; }

  // The function the module applies (also used by block testbenches): prunes and counts.
  void prune(int32_t* data, PruneTileExt& ext);
  // The comparators alone (no statistics): returns the values set to zero. `idx` is scratch.
  static uint64_t apply(const BlockPrune& rule, int32_t* data, PruneTileExt& ext,
                        std::vector<int>& idx);
  // The rule of a mode for a block of top-k segment `segment` (0: DynaTran's threshold).
  static BlockPrune mode_rule(const PruneMode& mode, int segment);

 private:
  void b_transport(int id, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(int id, tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  PruneMode mode_;
  DynaTranStats stats_;
  std::vector<int> idx_;
  std::vector<int32_t> tile_;  // the unit's copy of the tile being pruned
};

// The DynaTran comparators without a kernel: for runs of the data path alone (`calibrate`).
class StandalonePruner : public PostSparsity {
 public:
  explicit StandalonePruner(const PruneMode& mode);
  uint64_t prune_block(int32_t* data, int rows, int cols, int ld, int segment) override;
  uint64_t prune_block(int32_t* data, int rows, int cols, int ld, const BlockPrune& rule) override;

 private:
  PruneMode mode_;
  PruneTileExt ext_;
  std::vector<int> idx_;
};

// The engines' side: sends a block to the DynaTran module over an initiator socket.
template <typename Socket>
class DynaTranPort : public PostSparsity {
 public:
  explicit DynaTranPort(Socket& s) : socket_(s) { gp_.set_extension(&ext_); }
  ~DynaTranPort() override { gp_.clear_extension(&ext_); }
  uint64_t prune_block(int32_t* data, int rows, int cols, int ld, int segment) override {
    ext_.has_rule = false;
    return send(data, rows, cols, ld, segment);
  }
  uint64_t prune_block(int32_t* data, int rows, int cols, int ld, const BlockPrune& rule) override {
    ext_.has_rule = true;
    ext_.rule = rule;
    return send(data, rows, cols, ld, rule.segment);
  }
  uint64_t take_topk_cycles() {
    const uint64_t c = topk_cycles_;
    topk_cycles_ = 0;
    return c;
  }

 private:
  uint64_t send(int32_t* data, int rows, int cols, int ld, int segment) {
    ext_.rows = rows;
    ext_.cols = cols;
    ext_.ld = ld;
    ext_.segment = segment;
    const unsigned len = static_cast<unsigned>(((rows - 1) * ld + cols) * 4);
    gp_.set_command(tlm::TLM_WRITE_COMMAND);
    gp_.set_address(0);
    gp_.set_data_ptr(reinterpret_cast<unsigned char*>(data));
    gp_.set_data_length(len);
    gp_.set_streaming_width(len);
    gp_.set_byte_enable_ptr(nullptr);
    gp_.set_dmi_allowed(false);
    gp_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket_->b_transport(gp_, delay);
    if (gp_.is_response_error())
      throw std::runtime_error(std::string("DynaTran module rejected a tile: ") +
                               gp_.get_response_string());
    apply_mask(data, ext_);
    topk_cycles_ += ext_.topk_cycles;
    return ext_.zeros;
  }
  // The unit's answer applied to the engine's tile: every value its mask drops becomes 0.
  static void apply_mask(int32_t* data, const PruneTileExt& ext) {
    for (int r = 0; r < ext.rows; ++r) {
      int32_t* x = data + static_cast<size_t>(r) * static_cast<size_t>(ext.ld);
      const uint8_t* m = ext.mask.data() + static_cast<size_t>(r) * static_cast<size_t>(ext.cols);
      for (int c = 0; c < ext.cols; ++c)
        if (!m[c]) x[c] = 0;
    }
  }
  Socket& socket_;
  tlm::tlm_generic_payload gp_;
  PruneTileExt ext_;
  uint64_t topk_cycles_ = 0;
};

// An engine's post-sparsity port for a functional run (nullptr without a data path).
template <typename Socket>
std::unique_ptr<DynaTranPort<Socket>> make_dynatran_port(const TileJobDatapath* datapath,
                                                         Socket& socket) {
  return datapath ? std::make_unique<DynaTranPort<Socket>>(socket) : nullptr;
}

}  // namespace acceltran

#include "acceltran/hw/memory/main_memory.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace acceltran {

namespace {
std::string join_keys(const std::map<std::string, double>& m) {
  std::string s;
  for (const auto& kv : m) s += (s.empty() ? "" : ", ") + kv.first;
  return s;
}
uint64_t mix64(uint64_t x) {  // splitmix64 finalizer: deterministic scattered addresses
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

MainMemory::MainMemory(sc_core::sc_module_name name, const MainMemoryConfig& cfg,
                       const Technology& tech, const MemoryTimingTable& timing,
                       const SimOptions& opts, const MainMemoryOptions& mopts)
    : sc_module(name), socket("socket"), cfg_(cfg), mopts_(mopts), published_(opts.published) {
  if (cfg.banks <= 0 || cfg.ranks <= 0 || cfg.channels <= 0)
    throw InputError(fmt::format("main memory: banks {}, ranks {}, channels {} must be > 0",
                                 cfg.banks, cfg.ranks, cfg.channels));
  bytes_per_s_ = peak_bytes_per_second(cfg, tech, opts);
  energy_per_access_nj_ = access_energy_nj(cfg, tech);
  t_ = timing.at(cfg.type);
  ideal_ = opts.memory_model == MemoryModel::ideal;
  refresh_ = !ideal_ && mopts.refresh && t_.has_refresh();
  // Each channel carries 1/channels of the peak bandwidth.
  burst_ps_ = t_.burst_bytes / (bytes_per_s_ / cfg.channels) * 1e12;
  bursts_per_row_ = static_cast<uint64_t>(t_.row_bytes / t_.burst_bytes);
  tRCD_ = t_.tRCD_ns * 1e3;
  tCL_ = t_.tCL_ns * 1e3;
  tCWL_ = t_.tCWL_ns * 1e3;
  tRP_ = t_.tRP_ns * 1e3;
  tRAS_ = t_.tRAS_ns * 1e3;
  tWR_ = t_.tWR_ns * 1e3;
  tREFI_ = t_.tREFI_ns * 1e3;
  tRFC_ = t_.tRFC_ns * 1e3;
  banks_.resize(static_cast<size_t>(cfg.channels) * cfg.ranks * cfg.banks);
  if (mopts.address_bits < 12 || mopts.address_bits > 63)
    throw InputError(
        fmt::format("main memory: address_bits {} must be in [12, 63]", mopts.address_bits));
  capacity_bytes_ = uint64_t{1} << mopts.address_bits;
  bus_free_ps_.assign(cfg.channels, 0.0);
  socket.register_b_transport(this, &MainMemory::b_transport);
  socket.register_nb_transport_fw(this, &MainMemory::nb_transport_fw);
  socket.register_transport_dbg(this, &MainMemory::transport_dbg);
  socket.register_get_direct_mem_ptr(this, &MainMemory::get_direct_mem_ptr);
}

double MainMemory::peak_bytes_per_second(const MainMemoryConfig& cfg, const Technology& tech,
                                         const SimOptions& opts) {
  auto bw = tech.main_memory_bandwidth_gbps.find(cfg.bandwidth_class);
  if (bw == tech.main_memory_bandwidth_gbps.end())
    throw InputError(fmt::format("main memory: bandwidth class '{}' unknown in {}; allowed: {}",
                                 cfg.bandwidth_class, tech.source,
                                 join_keys(tech.main_memory_bandwidth_gbps)));
  return opts.bandwidth == BandwidthConvention::bytes
             ? bw->second * 1e9
             : bw->second * 1073741824.0 * tech.word_bits() / 8.0;
}

double MainMemory::access_energy_nj(const MainMemoryConfig& cfg, const Technology& tech) {
  auto en = tech.main_memory_access_energy_nj.find(cfg.energy_key());
  if (en == tech.main_memory_access_energy_nj.end())
    throw InputError(fmt::format(
        "main memory: layout {} [banks {}, ranks {}, channels {}] of type {} has no access "
        "energy (key type_banks_ranks_channels) in {}; known layouts: {}",
        cfg.energy_key(), cfg.banks, cfg.ranks, cfg.channels, to_string(cfg.type), tech.source,
        join_keys(tech.main_memory_access_energy_nj)));
  return en->second;
}

void MainMemory::check_layout(const MainMemoryConfig& cfg, const DesignSpace& space) {
  auto it = space.main_memory.find(to_string(cfg.type));
  std::string allowed;
  if (it != space.main_memory.end()) {
    for (const auto& l : it->second) {
      if (l[0] == cfg.banks && l[1] == cfg.ranks && l[2] == cfg.channels) return;
      allowed += fmt::format("{}[{}, {}, {}]", allowed.empty() ? "" : ", ", l[0], l[1], l[2]);
    }
  }
  throw InputError(fmt::format(
      "main memory: layout [banks, ranks, channels] = [{}, {}, {}] for {} is not in the design "
      "space ({}); allowed: {}",
      cfg.banks, cfg.ranks, cfg.channels, to_string(cfg.type), space.source,
      allowed.empty() ? "none" : allowed));
}

MemAddress MainMemory::decode(uint64_t address) const {
  uint64_t g = address / t_.burst_bytes;
  MemAddress a;
  a.channel = static_cast<int>(g % cfg_.channels);
  g /= cfg_.channels;
  a.column = static_cast<uint32_t>(g % bursts_per_row_);
  g /= bursts_per_row_;
  a.rank = static_cast<int>(g % cfg_.ranks);
  g /= cfg_.ranks;
  a.bank = static_cast<int>(g % cfg_.banks);
  a.row = g / cfg_.banks;
  return a;
}

uint64_t MainMemory::encode(const MemAddress& a) const {
  uint64_t g = a.row;
  g = g * cfg_.banks + a.bank;
  g = g * cfg_.ranks + a.rank;
  g = g * bursts_per_row_ + a.column;
  g = g * cfg_.channels + a.channel;
  return g * t_.burst_bytes;
}

double MainMemory::refresh_overhead() const {
  if (!refresh_) return 0.0;
  double blocked = tRFC_ + tRCD_;
  return blocked / (tREFI_ - blocked);
}

double MainMemory::background_energy_nj(double elapsed_ps) const {
  if (!mopts_.background_power || ideal_) return 0.0;
  double e = t_.background_mw * elapsed_ps * 1e-6;  // mW x ns = pJ; ps x 1e-6 -> nJ
  if (t_.has_refresh()) e += std::floor(elapsed_ps / tREFI_) * t_.refresh_energy_nj * cfg_.ranks;
  return e;
}

int64_t MainMemory::epoch(double t) const {
  return refresh_ ? static_cast<int64_t>(std::floor(t / tREFI_)) : 0;
}

double MainMemory::after_refresh(double t) const {
  if (!refresh_) return t;
  double k = std::floor(t / tREFI_);
  if (k >= 1 && t - k * tREFI_ < tRFC_) return k * tREFI_ + tRFC_;
  return t;
}

// One burst with full bank state: row hit, closed row or conflict (precharge first), tRAS, tWR,
// refresh windows. The column command is issued just in time for the channel's data bus.
double MainMemory::burst_access(double t, uint64_t g, bool write) {
  MemAddress a = decode(g * t_.burst_bytes);
  Bank& b = bank_of(a);
  double& bus = bus_free_ps_[a.channel];
  double lat = write ? tCWL_ : tCL_;
  double t0 = std::max({t, b.ready_ps, bus - lat});
  double t0r = after_refresh(t0);
  if (t0r != t0) ++stats_.refresh_stalls;
  t0 = t0r;
  bool same_epoch = epoch(b.last_use_ps) == epoch(t0);
  double t_col;
  ++stats_.bursts;
  if (b.open_row == static_cast<int64_t>(a.row) && same_epoch) {
    ++stats_.row_hits;
    t_col = t0;
  } else {
    ++stats_.row_misses;
    double earliest_act = std::max(t, b.ready_ps);
    if (b.open_row >= 0 && same_epoch) {  // another row open: precharge it first
      ++stats_.row_conflicts;
      earliest_act = std::max({earliest_act, b.act_ps + tRAS_, b.wr_end_ps + tWR_}) + tRP_;
    }
    double act = after_refresh(std::max(earliest_act, t0 - tRCD_));
    t_col = after_refresh(std::max(t0, act + tRCD_));
    if (epoch(t_col) != epoch(act)) {  // a refresh closed the row again: re-activate
      act = after_refresh(static_cast<double>(epoch(t_col)) * tREFI_);
      t_col = act + tRCD_;
    }
    b.act_ps = act;
    b.open_row = static_cast<int64_t>(a.row);
  }
  double data_start = std::max(t_col + lat, bus);
  double data_end = data_start + burst_ps_;
  bus = data_end;
  b.ready_ps = t_col + burst_ps_;
  b.last_use_ps = t_col;
  if (write) b.wr_end_ps = data_end;
  return data_end;
}

// A sequential run of n bursts: the first burst goes through burst_access (row state of the
// first bank); the rest stream on every channel at the burst rate, bank activations being
// hidden by bank parallelism, and each refresh window blocks the bus from tREFI·k + lat to
// tREFI·k + tRFC + tRCD + lat (the stream re-activates its row after the refresh).
double MainMemory::bulk_access(double t, uint64_t g0, uint64_t n, bool write) {
  double first_end = burst_access(t, g0, write);
  if (n == 1) return first_end;
  ++stats_.bulk_transfers;
  const uint64_t C = static_cast<uint64_t>(cfg_.channels);
  const double lat = write ? tCWL_ : tCL_;
  const double data_start = first_end - burst_ps_;
  const int c0 = static_cast<int>(g0 % C);
  double end = first_end;
  uint64_t windows = 0;
  const uint64_t used = std::min<uint64_t>(n, C);
  for (uint64_t i = 0; i < used; ++i) {
    int c = static_cast<int>((g0 + i) % C);
    uint64_t count = (n - i + C - 1) / C;  // bursts g0+i, g0+i+C, ...
    double s;
    if (c == c0) {
      s = first_end;
      --count;
    } else {
      s = std::max(data_start, bus_free_ps_[c]);
    }
    double rem = static_cast<double>(count) * burst_ps_;
    if (refresh_) {
      const double blocked = tRFC_ + tRCD_;
      for (;;) {
        double k = std::max(1.0, std::floor((s - lat) / tREFI_));
        double b0 = k * tREFI_ + lat;
        if (s >= b0 + blocked) {  // past this window: look at the next one
          b0 += tREFI_;
        }
        if (s >= b0) {  // inside a blocked interval
          s = b0 + blocked;
          continue;
        }
        if (s + rem <= b0) break;
        rem -= b0 - s;
        s = b0 + blocked;
        ++windows;
      }
    }
    double e = s + rem;
    bus_free_ps_[c] = e;
    end = std::max(end, e);
  }
  // Statistics: one activation per row segment and channel, and one after each refresh.
  const uint64_t seg0 = g0 / C / bursts_per_row_, seg1 = (g0 + n - 1) / C / bursts_per_row_;
  uint64_t misses = (seg1 - seg0 + 1) * used + windows;
  misses = std::min(misses - 1, n - 1);
  stats_.row_misses += misses;
  stats_.row_hits += (n - 1) - misses;
  stats_.bursts += n - 1;
  stats_.refresh_stalls += windows;
  // Bank state after the run: the last row segments stay open.
  const uint64_t bank_ranks = static_cast<uint64_t>(cfg_.banks) * cfg_.ranks;
  const double row_ps = static_cast<double>(bursts_per_row_) * burst_ps_;
  uint64_t first_seg = seg1 + 1 > bank_ranks ? std::max(seg0, seg1 + 1 - bank_ranks) : seg0;
  for (uint64_t s = first_seg; s <= seg1; ++s) {
    MemAddress a;
    a.rank = static_cast<int>(s % cfg_.ranks);
    a.bank = static_cast<int>((s / cfg_.ranks) % cfg_.banks);
    a.row = s / bank_ranks;
    for (uint64_t i = 0; i < used; ++i) {
      a.channel = static_cast<int>((g0 + i) % C);
      Bank& b = bank_of(a);
      b.open_row = static_cast<int64_t>(a.row);
      b.act_ps = std::max(data_start, end - row_ps);
      b.ready_ps = b.last_use_ps = end - lat;
      if (write) b.wr_end_ps = end;
    }
  }
  return end;
}

double MainMemory::access(double request_ps, uint64_t address, uint64_t bytes, bool write,
                          bool sequential, double energy_nj) {
  if (stats_.first_request_ps < 0 || request_ps < stats_.first_request_ps)
    stats_.first_request_ps = request_ps;
  (write ? stats_.writes : stats_.reads) += 1;
  (write ? stats_.bytes_written : stats_.bytes_read) += bytes;
  uint64_t accesses = (bytes + kMainMemoryAccessBytes - 1) / kMainMemoryAccessBytes;
  stats_.accesses_64b += accesses;
  stats_.dynamic_energy_nj +=
      energy_nj >= 0 ? energy_nj : static_cast<double>(accesses) * energy_per_access_nj_;
  double end = request_ps;
  if (bytes == 0) {
  } else if (ideal_) {
    double start = std::max(request_ps, pipe_free_ps_);
    end = pipe_free_ps_ = start + static_cast<double>(bytes) / bytes_per_s_ * 1e12;
  } else {
    uint64_t g0 = address / t_.burst_bytes;
    uint64_t n = (address + bytes - 1) / t_.burst_bytes - g0 + 1;
    if (!sequential) {
      for (uint64_t i = 0; i < n; ++i)
        end = std::max(end, burst_access(request_ps, mix64(g0 * 1315423911ULL + i) >> 24, write));
    } else {
      bool bulk = mopts_.mode == MainMemoryOptions::Mode::bulk ||
                  (mopts_.mode == MainMemoryOptions::Mode::automatic &&
                   bytes >= mopts_.bulk_threshold_bytes);
      if (bulk) {
        end = bulk_access(request_ps, g0, n, write);
      } else {
        for (uint64_t i = 0; i < n; ++i)
          end = std::max(end, burst_access(request_ps, g0 + i, write));
      }
    }
  }
  stats_.last_completion_ps = std::max(stats_.last_completion_ps, end);
  return end;
}

void MainMemory::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const tlm::tlm_response_status st =
      proto::check_access(gp, capacity_bytes_, false, /*partial_byte_enables=*/true);
  if (st != tlm::TLM_OK_RESPONSE) {
    gp.set_response_status(st);
    return;
  }
  bool write = gp.get_command() == tlm::TLM_WRITE_COMMAND;
  bool sequential = true;
  double energy_nj = -1;  // default: per 64-byte access
  if (auto* ext = gp.get_extension<proto::TransferExt>()) {
    sequential = ext->sequential;
    // Published load energy, when asked for (reference profile, --reference-bugs): per 64
    // elements x (1 - s) instead of per 64 bytes of data and mask, and/or charged twice.
    const bool load = proto::is_load(ext->kind);
    const PublishedBehaviours& bugs = published_;
    if (load && (bugs.mm_energy_per_element || bugs.double_load_energy)) {
      const uint64_t bytes = gp.get_data_length();
      energy_nj =
          bugs.mm_energy_per_element
              ? energy_per_access_nj_ * static_cast<double>(ext->elements) * (1.0 - ext->sparsity) /
                    64.0
              : static_cast<double>((bytes + kMainMemoryAccessBytes - 1) / kMainMemoryAccessBytes) *
                    energy_per_access_nj_;
      if (bugs.double_load_energy) energy_nj *= 2;
    }
  }
  sc_core::sc_time now = sc_core::sc_time_stamp();
  double req_ps = (now + delay).to_seconds() * 1e12;
  uint64_t bytes = gp.get_data_length();
  double end_ps = req_ps;
  auto* ext = gp.get_extension<proto::TransferExt>();
  if (ideal_ && published_.mask_own_bandwidth && ext && !write && ext->mask_bytes > 0 &&
      ext->mask_bytes < bytes) {
    // Published (buffer.py load), when asked for: the mask buffer loads the mask concurrently,
    // at the full main-memory bandwidth of its own; the data alone use the pipe. Energy is
    // still charged for data and mask.
    if (energy_nj < 0)
      energy_nj =
          static_cast<double>((bytes + kMainMemoryAccessBytes - 1) / kMainMemoryAccessBytes) *
          energy_per_access_nj_;
    const double start_m = std::max(req_ps, mask_pipe_free_ps_);
    mask_pipe_free_ps_ = start_m + static_cast<double>(ext->mask_bytes) / bytes_per_s_ * 1e12;
    end_ps = mask_pipe_free_ps_;
    bytes -= ext->mask_bytes;
    stats_.bytes_read += ext->mask_bytes;
  }
  end_ps = std::max(end_ps, access(req_ps, gp.get_address(), bytes, write, sequential, energy_nj));
  double d_ps = std::ceil(end_ps - now.to_seconds() * 1e12 - 1e-6);
  delay = sc_core::sc_time(std::max(0.0, d_ps), sc_core::SC_PS);
  if (store_) {
    copy_contents(*store_, write, gp.get_address(), gp.get_data_ptr(), gp.get_data_length(),
                  gp.get_data_length(), gp.get_byte_enable_ptr(), gp.get_byte_enable_length());
    gp.set_dmi_allowed(true);
  }
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

// nb_transport_fw: early completion with the b_transport timing (proto::serve_nb_transport_fw).
tlm::tlm_sync_enum MainMemory::nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                               sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay,
      [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { b_transport(g, d); });
}

// Debug access (no time, energy or statistics): the store's bytes in [address, capacity).
unsigned int MainMemory::transport_dbg(tlm::tlm_generic_payload& gp) {
  return debug_transport(store_, gp, capacity_bytes_);
}

// DMI to the store page holding the address, read and write, with the latency of a row miss
// (tRCD + tCL / tCWL). DMI bypasses the timing, energy and statistics of the memory model: it is
// for loaders and debuggers, not for traffic whose cost should be counted.
bool MainMemory::get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi) {
  const uint64_t a = gp.get_address();
  uint64_t start = 0, end = 0;
  unsigned char* p = store_ && a < capacity_bytes_ ? store_->direct(a, start, end) : nullptr;
  if (!p) {  // no DMI anywhere in the memory
    dmi.set_start_address(0);
    dmi.set_end_address(capacity_bytes_ - 1);
    dmi.allow_none();
    return false;
  }
  dmi.set_dmi_ptr(p);
  dmi.set_start_address(start);
  dmi.set_end_address(std::min(end, capacity_bytes_ - 1));
  dmi.allow_read_write();
  dmi.set_read_latency(sc_core::sc_time(tRCD_ + tCL_, sc_core::SC_PS));
  dmi.set_write_latency(sc_core::sc_time(tRCD_ + tCWL_, sc_core::SC_PS));
  return true;
}

}  // namespace acceltran

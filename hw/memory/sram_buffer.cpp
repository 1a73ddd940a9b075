#include "acceltran/hw/memory/sram_buffer.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

namespace acceltran {

namespace {
double bytes_per_second(double gbps, BandwidthConvention c, int word_bits) {
  // bytes: 1 GB/s = 1e9 B/s. words: the published simulator's GB/s x 2^30 x 20 bits, i.e.
  // GB/s x 2^30 x word_bits / 8 bytes.
  return c == BandwidthConvention::bytes ? gbps * 1e9 : gbps * 1073741824.0 * word_bits / 8.0;
}
}  // namespace

std::unique_ptr<SramBuffer> SramBuffer::from_config(sc_core::sc_module_name name,
                                                    proto::Buffer kind,
                                                    const AcceleratorConfig& cfg,
                                                    const Technology& tech,
                                                    const SimOptions& opts) {
  double mb = kind == proto::Buffer::activation ? cfg.activation_buffer_mb
              : kind == proto::Buffer::weight   ? cfg.weight_buffer_mb
                                                : cfg.mask_buffer_mb;
  auto it = tech.buffers.find(proto::to_string(kind));
  if (it == tech.buffers.end())
    throw InputError(
        fmt::format("{}: no figures for the {} buffer", tech.source, proto::to_string(kind)));
  auto buf =
      std::make_unique<SramBuffer>(name, kind, mb, it->second, tech.buffer_port_bandwidth_gbps,
                                   tech.clock_mhz, opts, tech.word_bits());
  if (buf->policy_.banked_buffer_ports)
    buf->set_banked_ports(cfg.banks(proto::to_string(kind)), cfg.buffer_ports.bank_width_bytes);
  return buf;
}

void SramBuffer::set_banked_ports(int banks, int width_bytes) {
  if (banks <= 0 || width_bytes <= 0)
    throw InputError(fmt::format("{} buffer: banks ({}) and bank_width_bytes ({}) must be > 0",
                                 proto::to_string(kind_), banks, width_bytes));
  banks_ = banks;
  port_bytes_per_cycle_ = static_cast<double>(banks) * width_bytes;
}

SramBuffer::SramBuffer(sc_core::sc_module_name name, proto::Buffer kind, double size_mb,
                       const BufferFigures& fig, double port_bandwidth_gbps, double clock_mhz,
                       const SimOptions& opts, int word_bits)
    : sc_module(name),
      socket("socket"),
      core_socket("core_socket"),
      kind_(kind),
      size_mb_(size_mb),
      fig_(fig),
      clock_mhz_(clock_mhz),
      opts_(opts),
      policy_(MemoryPolicy::for_profile(opts.profile)) {
  if (!(size_mb > 0))
    throw InputError(
        fmt::format("{} buffer: size {} MB must be > 0", proto::to_string(kind), size_mb));
  if (!(port_bandwidth_gbps > 0) || !(clock_mhz > 0))
    throw InputError(fmt::format("{} buffer: port bandwidth {} GB/s and clock {} MHz must be > 0",
                                 proto::to_string(kind), port_bandwidth_gbps, clock_mhz));
  if (fig.block_bytes <= 0)
    throw InputError(fmt::format("{} buffer: block_bytes must be > 0", proto::to_string(kind)));
  capacity_bytes_ = static_cast<uint64_t>(std::llround(size_mb * 1048576.0));
  port_bytes_per_cycle_ =
      bytes_per_second(port_bandwidth_gbps, opts.bandwidth, word_bits) / (clock_mhz * 1e6);
  if (capacity_bytes_ > 0) free_ranges_.emplace(0, capacity_bytes_);
  socket.register_b_transport(this, &SramBuffer::b_transport);
  socket.register_transport_dbg(this, &SramBuffer::transport_dbg);
  socket.register_nb_transport_fw(this, &SramBuffer::nb_transport_fw);
  core_socket.register_b_transport(this, &SramBuffer::core_b_transport);
  core_socket.register_nb_transport_fw(this, &SramBuffer::core_nb_transport_fw);
  core_socket.register_transport_dbg(this, &SramBuffer::core_transport_dbg);
}

uint64_t SramBuffer::now_or(uint64_t c) const {
  return c != kNow ? c : proto::time_to_cycles(sc_core::sc_time_stamp(), clock_mhz_);
}

void SramBuffer::advance_occupancy(uint64_t now_cycle) {
  if (now_cycle > occupancy_since_cycle_) {
    stats_.occupancy_byte_cycles +=
        static_cast<double>(used_bytes_) * static_cast<double>(now_cycle - occupancy_since_cycle_);
    occupancy_since_cycle_ = now_cycle;
  }
}

void SramBuffer::set_used(uint64_t bytes, uint64_t now_cycle) {
  advance_occupancy(now_cycle);
  used_bytes_ = bytes;
  stats_.peak_occupancy_bytes = std::max(stats_.peak_occupancy_bytes, used_bytes_);
}

double SramBuffer::average_occupancy_bytes(uint64_t now_cycle) {
  now_cycle = now_or(now_cycle);
  advance_occupancy(now_cycle);
  return now_cycle == 0 ? static_cast<double>(used_bytes_)
                        : stats_.occupancy_byte_cycles / static_cast<double>(now_cycle);
}

void SramBuffer::touch(const ResidentKey& k, Entry& e, uint64_t now_cycle) {
  e.last_use_cycle = now_cycle;
  if (opts_.eviction == EvictionPolicy::fifo) return;
  if (e.pins == 0) order_.erase(e.order);
  e.order = OrderKey{rank_of(k), ++seq_};
  if (e.pins == 0) order_[e.order] = k;
}

uint64_t SramBuffer::rank_of(const ResidentKey& k) const {
  if (opts_.eviction != EvictionPolicy::next_use || !next_use_) return 0;
  return kNeverUsed - next_use_(k);
}

uint64_t SramBuffer::evictable_bytes(const ResidentKey& k, uint64_t need,
                                     EvictionReach reach) const {
  if (opts_.eviction != EvictionPolicy::next_use || !next_use_ || reach == EvictionReach::any)
    return used_bytes_ - pinned_bytes_;
  // Entries ranked below k's own rank are used after k (or never again).
  const uint64_t rank_limit = rank_of(k);
  uint64_t bytes = 0;
  for (auto it = order_.begin(); it != order_.end() && bytes < need; ++it) {
    if (it->first.rank >= rank_limit) break;
    bytes += table_.at(it->second).bytes;
  }
  return bytes;
}

bool SramBuffer::can_allocate(const ResidentKey& k, uint64_t bytes, EvictionReach reach) const {
  if (table_.count(k) != 0) return true;
  if (bytes > capacity_bytes_) return false;
  const uint64_t need = bytes > free_bytes() ? bytes - free_bytes() : 0;
  return need == 0 || evictable_bytes(k, need, reach) >= need;
}

void SramBuffer::refresh(const ResidentKey& k, uint64_t now_cycle) {
  auto it = table_.find(k);
  if (it != table_.end()) touch(k, it->second, now_or(now_cycle));
}

bool SramBuffer::lookup(const ResidentKey& k, uint64_t now_cycle) {
  auto it = table_.find(k);
  if (it == table_.end()) {
    ++stats_.misses;
    return false;
  }
  ++stats_.hits;
  touch(k, it->second, now_or(now_cycle));
  return true;
}

AllocResult SramBuffer::allocate(const ResidentKey& k, uint64_t bytes,
                                 const std::string& tensor_name, uint64_t now_cycle,
                                 EvictionReach reach) {
  now_cycle = now_or(now_cycle);
  AllocResult r;
  auto it = table_.find(k);
  if (it != table_.end()) {
    touch(k, it->second, now_cycle);
    r.fitted = r.hit = true;
    return r;
  }
  if (bytes > capacity_bytes_) {
    std::string who = tensor_name.empty()
                          ? fmt::format("tensor {}", k.tensor)
                          : fmt::format("tensor '{}' (id {})", tensor_name, k.tensor);
    throw InputError(fmt::format(
        "{} part {} needs {} bytes ({:.3f} MB) but the whole {} buffer holds {} bytes ({} MB)", who,
        k.part, bytes, bytes / 1048576.0, proto::to_string(kind_), capacity_bytes_, size_mb_));
  }
  // Enough evictable room? Check first so that a failed allocation evicts nothing. Pinned
  // entries are kept out of the eviction order, so the check and the scan are cheap; the scan
  // stops at the first entry the policy may not evict (next_use: one needed sooner than k).
  uint64_t need = bytes > free_bytes() ? bytes - free_bytes() : 0;
  if (need > 0) {
    if (evictable_bytes(k, need, reach) < need) {
      ++stats_.failed_allocations;
      return r;
    }
    evict_until(need, now_cycle, r.evicted);
  }
  Entry e;
  e.bytes = bytes;
  e.address = place(bytes);
  if (track_placements_) last_address_.erase(k);
  e.last_use_cycle = now_cycle;
  e.insert_seq = ++seq_;
  e.order = OrderKey{rank_of(k), e.insert_seq};
  table_[k] = e;
  order_[e.order] = k;
  set_used(used_bytes_ + bytes, now_cycle);
  ++stats_.allocations;
  r.fitted = true;
  return r;
}

// Evicts unpinned entries in policy order until `need` bytes are freed (or none is left).
void SramBuffer::evict_until(uint64_t need, uint64_t now_cycle, std::vector<Evicted>& evicted) {
  uint64_t freed = 0;
  for (auto oit = order_.begin(); oit != order_.end() && freed < need;) {
    ResidentKey victim = oit->second;
    Entry& e = table_.at(victim);
    Evicted ev{victim, e.bytes, needed_later_ ? needed_later_(victim) : false};
    freed += e.bytes;
    ++stats_.evictions;
    stats_.evicted_bytes += e.bytes;
    if (ev.spill) {
      ++stats_.spills;
      stats_.spilled_bytes += e.bytes;
    }
    set_used(used_bytes_ - e.bytes, now_cycle);
    unplace(victim, e);
    table_.erase(victim);
    oit = order_.erase(oit);
    evicted.push_back(ev);
  }
}

// First fit in address order; when the free bytes (enough: the caller evicted first) are
// scattered over ranges too small, compact and take the one free range left.
uint64_t SramBuffer::place(uint64_t bytes) {
  if (bytes == 0 || !track_placements_) return 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (auto it = free_ranges_.begin(); it != free_ranges_.end(); ++it) {
      if (it->second < bytes) continue;
      const uint64_t address = it->first, left = it->second - bytes;
      if (left == 0) {
        free_ranges_.erase(it);
        return address;
      }
      auto rest = free_ranges_.extract(it);  // the range's remainder keeps its node
      rest.key() = address + bytes;
      rest.mapped() = left;
      free_ranges_.insert(std::move(rest));
      return address;
    }
    compact();
  }
  throw std::logic_error(
      fmt::format("{}: no room to place {} bytes ({} free)", name(), bytes, free_bytes()));
}

// The entry's range joins the free ranges (merged with its free neighbours); its address is
// kept for a spill that reads it.
void SramBuffer::unplace(const ResidentKey& k, const Entry& e) {
  if (!track_placements_) return;
  last_address_[k] = {e.address, e.bytes};
  if (e.bytes == 0) return;
  uint64_t address = e.address, bytes = e.bytes;
  auto next = free_ranges_.lower_bound(address);
  if (next != free_ranges_.end() && address + bytes == next->first) {
    bytes += next->second;
    next = free_ranges_.erase(next);
  }
  if (next != free_ranges_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == address) {
      previous->second += bytes;
      return;
    }
  }
  free_ranges_.emplace(address, bytes);
}

// Slides every entry down to the lowest addresses, in address order (the attached store's bytes
// move with them), leaving one free range at the top.
void SramBuffer::compact() {
  std::vector<std::pair<uint64_t, Entry*>> by_address;
  by_address.reserve(table_.size());
  for (auto& [key, entry] : table_)
    if (entry.bytes > 0) by_address.emplace_back(entry.address, &entry);
  std::sort(by_address.begin(), by_address.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<unsigned char> moved;
  uint64_t next = 0;
  for (auto& [address, entry] : by_address) {
    if (store_ && address != next) {
      moved.resize(entry->bytes);
      store_->read(address, moved.data(), entry->bytes);
      store_->write(next, moved.data(), entry->bytes);
    }
    entry->address = next;
    next += entry->bytes;
  }
  free_ranges_.clear();
  if (next < capacity_bytes_) free_ranges_.emplace(next, capacity_bytes_ - next);
  ++compactions_;
}

void SramBuffer::clear_residency(uint64_t now_cycle) {
  set_used(0, now_or(now_cycle));
  table_.clear();
  order_.clear();
  pinned_bytes_ = 0;
  last_address_.clear();
  free_ranges_.clear();
  if (capacity_bytes_ > 0) free_ranges_.emplace(0, capacity_bytes_);
}

void SramBuffer::track_placements() {
  if (track_placements_) return;
  if (!table_.empty())
    throw std::logic_error(fmt::format("{}: placements tracked after {} entries were allocated",
                                       name(), table_.size()));
  track_placements_ = true;
}

uint64_t SramBuffer::address_of(const ResidentKey& k) const {
  if (!track_placements_) return kNotPlaced;
  if (auto it = table_.find(k); it != table_.end()) return it->second.address;
  auto past = last_address_.find(k);
  return past == last_address_.end() ? kNotPlaced : past->second.first;
}

uint64_t SramBuffer::placed_bytes(const ResidentKey& k) const {
  if (!track_placements_) return 0;
  if (auto it = table_.find(k); it != table_.end()) return it->second.bytes;
  auto past = last_address_.find(k);
  return past == last_address_.end() ? 0 : past->second.second;
}

std::vector<Evicted> SramBuffer::make_free(uint64_t bytes, uint64_t now_cycle) {
  std::vector<Evicted> evicted;
  if (bytes > free_bytes()) evict_until(bytes - free_bytes(), now_or(now_cycle), evicted);
  return evicted;
}

bool SramBuffer::release(const ResidentKey& k, uint64_t now_cycle) {
  auto it = table_.find(k);
  if (it == table_.end()) return false;
  set_used(used_bytes_ - it->second.bytes, now_or(now_cycle));
  unplace(k, it->second);
  if (it->second.pins > 0)
    pinned_bytes_ -= it->second.bytes;
  else
    order_.erase(it->second.order);
  table_.erase(it);
  return true;
}

void SramBuffer::pin(const ResidentKey& k) {
  auto it = table_.find(k);
  if (it == table_.end())
    throw std::logic_error(
        fmt::format("{}: pin of tensor {} part {}: not resident", name(), k.tensor, k.part));
  if (it->second.pins++ == 0) {
    order_.erase(it->second.order);
    pinned_bytes_ += it->second.bytes;
  }
}

void SramBuffer::unpin(const ResidentKey& k) {
  auto it = table_.find(k);
  if (it == table_.end() || it->second.pins == 0)
    throw std::logic_error(
        fmt::format("{}: unpin of tensor {} part {}: not pinned", name(), k.tensor, k.part));
  if (--it->second.pins == 0) {
    // Its next use may have moved while it was pinned (the use that pinned it has issued).
    if (opts_.eviction == EvictionPolicy::next_use)
      it->second.order = OrderKey{rank_of(k), it->second.order.seq};
    order_[it->second.order] = k;
    pinned_bytes_ -= it->second.bytes;
  }
}

int SramBuffer::pin_count(const ResidentKey& k) const {
  auto it = table_.find(k);
  return it == table_.end() ? 0 : it->second.pins;
}

uint64_t SramBuffer::resident_bytes(const ResidentKey& k) const {
  auto it = table_.find(k);
  return it == table_.end() ? 0 : it->second.bytes;
}

std::vector<ResidentKey> SramBuffer::resident_keys() const {
  std::vector<std::pair<OrderKey, ResidentKey>> all;
  all.reserve(table_.size());
  for (const auto& [k, e] : table_) all.emplace_back(e.order, k);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ResidentKey> v;
  v.reserve(all.size());
  for (const auto& kv : all) v.push_back(kv.second);
  return v;
}

double SramBuffer::energy_per_block_nj() const {
  return fig_.access_energy_nj * std::sqrt(size_mb_);
}

double SramBuffer::access_energy_nj(uint64_t bytes) const {
  uint64_t blocks = (bytes + fig_.block_bytes - 1) / fig_.block_bytes;
  return static_cast<double>(blocks) * energy_per_block_nj();
}

double SramBuffer::leakage_energy_nj(uint64_t elapsed_cycles) const {
  return leakage_mw() / clock_mhz_ * static_cast<double>(elapsed_cycles);
}

uint64_t SramBuffer::access(uint64_t request_cycle, uint64_t bytes, bool write, double energy_nj) {
  if (policy_.banked_buffer_ports) {
    // Banked ports stream: the ports are busy bytes / (banks x width) cycles, kept fractional so
    // that many small transfers cost what one large one does; done at the next clock edge.
    const double start = std::max(static_cast<double>(request_cycle), port_free_);
    const double busy = static_cast<double>(bytes) / port_bytes_per_cycle_;
    port_free_ = start + busy;
    port_busy_ += busy;
    stats_.port_busy_cycles = static_cast<uint64_t>(std::ceil(port_busy_ - 1e-9));
    port_free_cycle_ = static_cast<uint64_t>(std::ceil(port_free_ - 1e-9));
  } else {
    uint64_t start = std::max(request_cycle, port_free_cycle_);
    uint64_t cycles = bytes == 0 ? 0
                                 : static_cast<uint64_t>(std::ceil(
                                       static_cast<double>(bytes) / port_bytes_per_cycle_ - 1e-9));
    port_free_cycle_ = start + cycles;
    stats_.port_busy_cycles += cycles;
  }
  ++stats_.port_accesses;
  uint64_t blocks = (bytes + fig_.block_bytes - 1) / fig_.block_bytes;
  stats_.blocks_accessed += blocks;
  stats_.dynamic_energy_nj += energy_nj >= 0 ? energy_nj : access_energy_nj(bytes);
  (write ? stats_.bytes_written : stats_.bytes_read) += bytes;
  return port_free_cycle_;
}

// Engines stream operands, partial sums and outputs through the ports: a request moves any
// number of bytes through its streaming window (tiles pass through; residency is the control
// block's business).
void SramBuffer::core_b_transport(int, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  serve(gp, delay);
}

// DMA transfers into or out of [0, capacity): whole transfers, or a part larger than its
// placement streamed through it (dma.hpp).
void SramBuffer::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  serve(gp, delay);
}

// nb_transport_fw on either socket: early completion (proto::serve_nb_transport_fw).
tlm::tlm_sync_enum SramBuffer::nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                               sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay, [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { serve(g, d); });
}

tlm::tlm_sync_enum SramBuffer::core_nb_transport_fw(int, tlm::tlm_generic_payload& gp,
                                                    tlm::tlm_phase& phase,
                                                    sc_core::sc_time& delay) {
  return proto::serve_nb_transport_fw(
      gp, phase, delay, [this](tlm::tlm_generic_payload& g, sc_core::sc_time& d) { serve(g, d); });
}

void SramBuffer::serve(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  const tlm::tlm_response_status st =
      proto::check_access(gp, capacity_bytes_, /*streaming=*/true, /*partial_byte_enables=*/true);
  if (st != tlm::TLM_OK_RESPONSE) {
    gp.set_response_status(st);
    return;
  }
  sc_core::sc_time now = sc_core::sc_time_stamp();
  // Request cycle: the first clock edge at or after the request time.
  uint64_t req =
      static_cast<uint64_t>(std::ceil((now + delay).to_seconds() * clock_mhz_ * 1e6 - 1e-3));
  uint64_t bytes = gp.get_data_length();
  bool write = gp.get_command() == tlm::TLM_WRITE_COMMAND;
  // Published STORE_A energy, when asked for (--reference-bugs store-energy-per-element): per 64
  // elements, not per 64-byte block of the zero-free data.
  double energy_nj = -1;
  if (opts_.published.store_energy_per_element && write)
    if (auto* ext = gp.get_extension<proto::TransferExt>();
        ext && ext->kind == proto::TransferKind::store_activations)
      energy_nj = energy_per_block_nj() * static_cast<double>(ext->elements) / 64.0;
  // Published (buffer.py load), when asked for (--reference-bugs load-writes-free): writing
  // loaded data into a buffer costs nothing.
  if (opts_.published.load_writes_free && write)
    if (auto* ext = gp.get_extension<proto::TransferExt>(); ext && proto::is_load(ext->kind))
      energy_nj = 0;
  uint64_t done = access(req, bytes, write, energy_nj);
  if (store_)
    copy_contents(*store_, write, gp.get_address(), gp.get_data_ptr(), bytes,
                  gp.get_streaming_width(), gp.get_byte_enable_ptr(), gp.get_byte_enable_length());
  sc_core::sc_time t_done = proto::cycles_to_time(done, clock_mhz_);
  delay = t_done > now ? t_done - now : sc_core::SC_ZERO_TIME;
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Debug access (no time, no energy, no statistics): the attached store's bytes in
// [address, capacity); 0 bytes without a store or for other commands.
unsigned int SramBuffer::transport_dbg(tlm::tlm_generic_payload& gp) {
  return debug_transport(store_, gp, capacity_bytes_);
}

unsigned int SramBuffer::core_transport_dbg(int, tlm::tlm_generic_payload& gp) {
  return transport_dbg(gp);
}

}  // namespace acceltran

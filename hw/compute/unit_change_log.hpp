// Change notifications for the VCD tracer (hw/control/tracer.hpp). A block that keeps one free
// cycle per unit (the PE array's lanes, the softmax and layer-norm modules) notes each unit it
// writes; the tracer takes the noted units at its next refresh instead of rescanning them all.
// Off until watch(): an untraced run pays one predictable branch per write. A unit is listed
// once between two takes and the list is sized once, so noting never allocates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace acceltran {

class UnitChangeLog {
 public:
  void watch(size_t units) {
    noted_.assign(units, 0);
    changed_.clear();
    changed_.reserve(units);
    watched_ = true;
  }
  void note(size_t unit) {
    if (!watched_ || noted_[unit]) return;
    noted_[unit] = 1;
    changed_.push_back(static_cast<uint32_t>(unit));
  }
  // Calls visit(unit) for each unit noted since the last take, then forgets them.
  template <class Visit>
  void take(Visit&& visit) {
    for (uint32_t unit : changed_) {
      noted_[unit] = 0;
      visit(unit);
    }
    changed_.clear();
  }

 private:
  bool watched_ = false;
  std::vector<char> noted_;
  std::vector<uint32_t> changed_;
};

// One free cycle per unit; every writable access is noted in the log (the PE array's timing
// policies write its lanes through operator[], so the array cannot note them one by one). A
// writable access that only reads is noted too: the tracer compares with what it saw.
class WatchedCycles {
 public:
  void assign(size_t units, uint64_t cycle) { cycles_.assign(units, cycle); }
  size_t size() const { return cycles_.size(); }
  const uint64_t& operator[](size_t unit) const { return cycles_[unit]; }
  uint64_t& operator[](size_t unit) {
    log_.note(unit);
    return cycles_[unit];
  }
  operator const std::vector<uint64_t>&() const { return cycles_; }  // NOLINT: read-only view
  UnitChangeLog& log() { return log_; }

 private:
  std::vector<uint64_t> cycles_;
  UnitChangeLog log_;
};

}  // namespace acceltran

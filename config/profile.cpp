#include "acceltran/config/profile.hpp"

namespace acceltran {

const char* to_string(Profile p) {
  return p == Profile::reference ? "reference" : "hardware";
}

bool parse_profile(const std::string& text, Profile* out) {
  if (text == "hardware" || text == "bert") {
    *out = Profile::hardware;
    return true;
  }
  if (text == "reference") {
    *out = Profile::reference;
    return true;
  }
  return false;
}

const std::vector<PublishedSwitch>& published_switches() {
  using B = PublishedBehaviours;
  constexpr SwitchFamily bug = SwitchFamily::bug, fix = SwitchFamily::fix;
  constexpr SwitchSide compile = SwitchSide::compile, simulate = SwitchSide::simulate;
  static const std::vector<PublishedSwitch> table{
      {"softmax-overassign", "a softmax job takes every free softmax module of its PE", bug,
       simulate, &B::softmax_overassign},
      {"double-load-energy", "a load's memory energy is charged twice (data and mask buffer)", bug,
       simulate, &B::double_load_energy},
      {"mm-energy-per-element", "load energy per 64 elements x (1 - sparsity), no mask bytes", bug,
       simulate, &B::mm_energy_per_element},
      {"store-energy-per-element", "STORE_A buffer energy per 64 elements", bug, simulate,
       &B::store_energy_per_element},
      {"buffer-leakage-gated", "buffers leak only while they transfer", bug, simulate,
       &B::buffer_leakage_gated},
      {"unclocked-submodules", "no operand-read, dataflow-routing or DMA energy", bug, simulate,
       &B::unclocked_submodules},
      {"published-deps", "layer norms wait for nothing and Q/K/V for their weights only", bug,
       compile, &B::published_deps},
      {"unstored-outputs", "layer-norm, activation and add outputs are never stored", bug, compile,
       &B::unstored_outputs},
      {"batch-duplicates", "outside the heads each tile group also carries the next group's first",
       bug, simulate, &B::batch_duplicates},
      {"mask-own-bandwidth", "ideal memory: a load's mask moves on a pipe of its own", bug,
       simulate, &B::mask_own_bandwidth},
      {"load-writes-free", "loads charge no buffer write energy", bug, simulate,
       &B::load_writes_free},
      {"emb-ln", "a layer norm on the embeddings", fix, compile, &B::emb_ln},
      {"head-sum", "the head outputs summed before the first layer norm of a layer", fix, compile,
       &B::head_sum},
      {"store-output", "the model output stored to main memory (STORE_M)", fix, compile,
       &B::store_output},
      {"serial-heads", "attention heads one after another", fix, compile, &B::serial_heads},
      {"loads-per-op", "each weight loaded just before its op", fix, compile, &B::loads_per_op},
  };
  return table;
}

std::vector<std::string> switch_names(SwitchFamily family) {
  std::vector<std::string> names;
  for (const PublishedSwitch& s : published_switches())
    if (s.family == family) names.emplace_back(s.name);
  return names;
}

bool set_switch(PublishedBehaviours& behaviours, SwitchFamily family, const std::string& name) {
  for (const PublishedSwitch& s : published_switches())
    if (s.family == family && name == s.name) {
      behaviours.*s.field = true;
      return true;
    }
  return false;
}

std::vector<std::string> switches_on(const PublishedBehaviours& behaviours, SwitchFamily family) {
  std::vector<std::string> names;
  for (const PublishedSwitch& s : published_switches())
    if (s.family == family && behaviours.*s.field) names.emplace_back(s.name);
  return names;
}

}  // namespace acceltran

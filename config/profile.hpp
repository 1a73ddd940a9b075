// The modelling profile and the published-behaviour switches of the reference profile: one
// table (published_switches()) from which the command line's help and parser, the compiler, the
// hardware blocks and report.json's inputs all derive (docs/fidelity.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace acceltran {

// hardware: this project's model of the AccelTran hardware (the default; `bert` is accepted as
// an alias, its former name). reference: the published AccelTran simulator's rules, for
// validation against its figures (docs/fidelity.md).
enum class Profile : uint8_t { hardware, reference };
const char* to_string(Profile p);
// Accepts "hardware", "reference" and the alias "bert"; false for anything else.
bool parse_profile(const std::string& text, Profile* out);
constexpr const char* kProfileNames = "hardware, reference";

// Every switch of the reference profile, one flag each. A *bug* is a published behaviour that
// the profile fixes, turned back on (--reference-bugs); a *fix* is a published op-graph
// convention replaced by this project's (--reference-fixes).
struct PublishedBehaviours {
  // bugs, simulation side
  bool softmax_overassign = false;        // pe.py assign_op: every free softmax module of a PE
  bool double_load_energy = false;        // loads charged in the data and the mask buffer
  bool mm_energy_per_element = false;     // load energy per 64 elements x (1 - s), no mask bytes
  bool store_energy_per_element = false;  // STORE_A buffer energy per 64 elements
  bool buffer_leakage_gated = false;      // buffers leak only while they transfer
  bool unclocked_submodules = false;      // no operand-read, dataflow-routing or DMA energy
  bool batch_duplicates = false;          // each tile group also carries the next group's first
  bool mask_own_bandwidth = false;        // ideal memory: a load's mask on a pipe of its own
  bool load_writes_free = false;          // loads charge no buffer write energy
  // bugs, compile side
  bool published_deps = false;    // layer norms wait for nothing, Q/K/V for their weights only
  bool unstored_outputs = false;  // layer-norm, activation and add outputs are never stored
  // fixes, compile side
  bool emb_ln = false;        // a layer norm on the embeddings (published: none)
  bool head_sum = false;      // the head outputs summed before ln_<l>_1 (published: not summed)
  bool store_output = false;  // STORE_M of the model output (published: nothing written back)
  bool serial_heads = false;  // heads one after another (published: concurrent head lists)
  bool loads_per_op = false;  // each weight loaded just before its op (published: q, k, v first)
};

enum class SwitchFamily : uint8_t { bug, fix };
enum class SwitchSide : uint8_t { compile, simulate };

struct PublishedSwitch {
  const char* name;         // command-line name, e.g. "softmax-overassign"
  const char* description;  // one line for --help and docs
  SwitchFamily family;
  SwitchSide side;
  bool PublishedBehaviours::*field;
};

// The table, in the order the command line lists them.
const std::vector<PublishedSwitch>& published_switches();
// The names of one family, in table order.
std::vector<std::string> switch_names(SwitchFamily family);
// Turns the named switch on; false when `name` is not a switch of `family`.
bool set_switch(PublishedBehaviours& behaviours, SwitchFamily family, const std::string& name);
// The names of the switches of `family` that are on, in table order.
std::vector<std::string> switches_on(const PublishedBehaviours& behaviours, SwitchFamily family);

}  // namespace acceltran

// How the control block schedules and keeps parts on chip under a modelling profile
// (docs/architecture.md, "The control block"; docs/fidelity.md §C and §E for the reference
// profile). Chosen once at elaboration from the profile; the control block and its residency
// manager ask these flags and never test the profile.
#pragma once
#include "acceltran/config/profile.hpp"

namespace acceltran {

struct ControlPolicy {
  // The oldest waiting tile job gathers its operands (holds what it has, fetches what it lacks)
  // and younger ones issue only with all their operands on chip; a tile job that could not
  // issue is tried again only after residency or pins changed. Off (reference): each tile job
  // fetches its missing operands in order and blocks on the first one not on chip.
  bool oldest_gathers = true;
  // Weight loads past the lookahead window run ahead in program order while they fit.
  bool loads_run_ahead = true;
  // An output part stays pinned from its allocation until its STORE_A (or, never stored, its
  // op's last tile job). Off: pinned only while a tile job writes it (no STORE_A).
  bool outputs_pinned_until_store = false;
  // A part nobody reads again is freed when its last reader completes (not when evicted).
  bool free_dead_parts = true;
  // An instruction is one tile-job transaction. Off: one per issue_width tiles (the published
  // batching).
  bool one_transaction_per_instruction = true;
  // The consecutive tile-job instructions of one block (its pieces under
  // --tiles-per-instruction) issue as one instruction: one transaction, the union of their
  // dependencies, done together (docs/isa.md, "Issue groups"). Off: every instruction issues
  // on its own (the reference profile's published issue batch).
  bool issue_blocks_whole = true;
  // An element-wise tile job (residual add, activation) whose outputs lack free room writes
  // them in place over the inputs it reads last (no later instruction reads them), as a
  // streaming unit that reads an element and writes its result at the same place can.
  bool in_place_elementwise = true;

  // The hardware profile: this project's rules; the reference profile: the published
  // simulator's.
  static ControlPolicy for_profile(Profile profile) {
    const bool hardware = profile == Profile::hardware;
    return ControlPolicy{/*oldest_gathers=*/hardware,
                         /*loads_run_ahead=*/hardware,
                         /*outputs_pinned_until_store=*/!hardware,
                         /*free_dead_parts=*/hardware,
                         /*one_transaction_per_instruction=*/hardware,
                         /*issue_blocks_whole=*/hardware,
                         /*in_place_elementwise=*/hardware};
  }
};

}  // namespace acceltran

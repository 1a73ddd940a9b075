#include "accelerator.hpp"

#include "accelerator_top.hpp"
#include "report_builder.hpp"

namespace acceltran {

SimResult simulate(const Program& prog, const AcceleratorConfig& cfg, const Technology& tech,
                   const RunOptions& o) {
  // Heap: the sc_modules must outlive sc_start.
  auto top = std::make_unique<Accelerator>("accelerator", prog, cfg, tech, o);
  sc_core::sc_start();
  return build_report(*top, prog, cfg, tech, o);
}

}  // namespace acceltran

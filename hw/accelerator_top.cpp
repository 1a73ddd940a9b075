#include "accelerator_top.hpp"

#include <fmt/format.h>

#include "parts.hpp"

namespace acceltran {

Accelerator::Accelerator(sc_core::sc_module_name name, const Program& prog,
                         const AcceleratorConfig& cfg, const Technology& tech, const RunOptions& o)
    : sc_module(name),
      timing(load_memory_timing(o.memory_timing_path.empty() ? default_memory_timing_path()
                                                             : o.memory_timing_path)),
      checkers(o.sim.check_protocol, proto::ProtocolChecker::Policy::error, true) {
  pe = std::make_unique<PeArray>("pe_array", cfg, tech, o.sim);
  softmax = std::make_unique<SoftmaxEngine>("softmax", cfg, tech, o.sim);
  lnorm = std::make_unique<LayerNormEngine>("layer_norm", cfg, tech, o.sim);
  act = SramBuffer::from_config("activation_buffer", proto::Buffer::activation, cfg, tech, o.sim);
  wgt = SramBuffer::from_config("weight_buffer", proto::Buffer::weight, cfg, tech, o.sim);
  msk = SramBuffer::from_config("mask_buffer", proto::Buffer::mask, cfg, tech, o.sim);
  const MainMemoryOptions mopts;
  mem = std::make_unique<MainMemory>("main_memory", cfg.main_memory, tech, timing, o.sim, mopts);
  dma = std::make_unique<Dma>("dma", cfg, tech, timing, o.sim);
  // Every tile job's block must fit on chip at once (the compiler splits ops into such blocks;
  // a hand-written stream may not).
  for (const auto& op : prog.ops) {
    const BlockGrid g = block_grid(op);
    const WorkingSet ws = block_working_set(prog, op, block_box(op, g, 0));
    if (ws.activation_bytes > act->capacity_bytes() || ws.weight_bytes > wgt->capacity_bytes() ||
        ws.mask_bytes > msk->capacity_bytes())
      throw InputError(fmt::format(
          "{}: op '{}' needs {} activation bytes, {} weight bytes and {} mask bytes on chip at "
          "once (one block of {}x{}x{}x{} tiles), but the activation buffer holds {}, the weight "
          "buffer {} and the mask buffer {} bytes; use larger buffers or a smaller batch / "
          "sequence",
          cfg.source, op.name, ws.activation_bytes, ws.weight_bytes, ws.mask_bytes, g.size[0],
          g.size[1], g.size[2], g.size[3], act->capacity_bytes(), wgt->capacity_bytes(),
          msk->capacity_bytes()));
  }
  ControlOptions copts = o.control;
  copts.dense_homes = o.functional != nullptr;
  copts.batch_duplicates = o.sim.published.batch_duplicates;
  ctrl = std::make_unique<ControlBlock>("control_block", prog, cfg, tech, copts, *act, *wgt, *msk);
  // Each initiator/target pair, through a protocol checker with --check-protocol.
  auto& c = checkers;
  c.connect(ctrl->pe_socket, pe->target, "check_pe");
  c.connect(ctrl->softmax_socket, softmax->target, "check_softmax");
  c.connect(ctrl->layer_norm_socket, lnorm->target, "check_layer_norm");
  c.connect(ctrl->dma_socket, dma->socket, "check_dma");
  c.connect(dma->memory_socket, mem->socket, "check_dma_memory");
  c.connect(dma->activation_socket, act->socket, "check_dma_activation");
  c.connect(dma->weight_socket, wgt->socket, "check_dma_weight");
  c.connect(dma->mask_socket, msk->socket, "check_dma_mask");
  // The engines' operand, partial-sum and output traffic goes through the buffers' ports.
  c.connect(pe->activation_port, act->core_socket, "check_pe_activation");
  c.connect(pe->weight_port, wgt->core_socket, "check_pe_weight");
  c.connect(pe->mask_port, msk->core_socket, "check_pe_mask");
  for (UnitPoolEngine* e :
       {static_cast<UnitPoolEngine*>(softmax.get()), static_cast<UnitPoolEngine*>(lnorm.get())}) {
    const std::string n = std::string("check_") + e->basename();
    c.connect(e->activation_port, act->core_socket, (n + "_activation").c_str());
    c.connect(e->weight_port, wgt->core_socket, (n + "_weight").c_str());
    c.connect(e->mask_port, msk->core_socket, (n + "_mask").c_str());
  }

  if (o.functional) {  // values flow: the data path, and DynaTran as its own module
    datapath = std::make_unique<Datapath>(prog, *o.functional);
    dynatran = std::make_unique<DynaTranUnit>("dynatran", o.functional->prune);
    c.connect(pe->dynatran_port, dynatran->target, "check_pe_dynatran");
    c.connect(softmax->dynatran_port, dynatran->target, "check_softmax_dynatran");
    pe->set_datapath(datapath.get());
    softmax->set_datapath(datapath.get());
    lnorm->set_datapath(datapath.get());
    // Main memory holds contents: every weight and embedding part's image at its home; the
    // transfers carry the parts' bytes (spills and stores write them, loads read them back).
    memory_contents = std::make_unique<SparseDataStore>();
    mem->attach_store(memory_contents.get());
    ctrl->set_contents(datapath.get());
    std::vector<unsigned char> image;
    for (const Tensor& t : prog.tensors) {
      if (t.cls == TensorClass::activation) continue;
      const PartGrid g = part_grid(t);
      for (uint32_t p = 0; p < g.parts(); ++p) {
        uint64_t data = 0, mask = 0;
        datapath->pack_part(t.id, p, image, data, mask);
        memory_contents->write(ctrl->part_address(t.id, p), image.data(), image.size());
      }
    }
  }

  if (!o.trace.vcd_path.empty()) {
    TracedBlocks tb;
    tb.program = &prog;
    tb.control = ctrl.get();
    tb.pe_array = pe.get();
    tb.softmax = softmax.get();
    tb.layer_norm = lnorm.get();
    tb.activation_buffer = act.get();
    tb.weight_buffer = wgt.get();
    tb.mask_buffer = msk.get();
    tb.dma = dma.get();
    tb.main_memory = mem.get();
    tb.dynatran = dynatran.get();
    tracer = std::make_unique<Tracer>("trace", o.trace, tb, tech.clock_mhz);
    Tracer* tr = tracer.get();
    ctrl->on_event = [tr](uint64_t now) { tr->on_control_event(now); };
  }
  // Buffer occupancy samples for the timeline, taken at control-block events.
  {
    auto prev = std::move(ctrl->on_event);
    SramBuffer *a = act.get(), *w = wgt.get(), *m = msk.get();
    ctrl->on_event = [prev, a, w, m, this](uint64_t now) {
      if (prev) prev(now);
      occupancy.push_back({now, a->used_bytes(), w->used_bytes(), m->used_bytes()});
    };
  }
}

}  // namespace acceltran

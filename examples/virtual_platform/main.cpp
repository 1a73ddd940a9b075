// A small virtual platform around the CPU-programmable accelerator (docs/architecture.md,
// "Driving the accelerator from a CPU"):
//
//   CpuDriver.bus ----------------> Interconnect --> MainMemory (with contents)
//   ProgrammableAccelerator.memory_socket() --^
//   CpuDriver.csr ----------------> ProgrammableAccelerator.register_socket()
//   ProgrammableAccelerator.registers.interrupt --> CpuDriver.irq
//
// The CPU driver writes the weights and the token embeddings (the parts' images the host-side
// loader made) and the program (its text form) into memory over TLM, programs the registers,
// waits for the interrupt, reads the model's output with transport_dbg and checks it: the
// bytes against the accelerator's own functional model, the values against the float
// reference. Then it zeroes the output in memory, STARTs the accelerator again and checks the
// second run's output the same way. Prints one line per step; exit status 0 when every check
// passes.
//
//   virtual_platform [MODELS_DIR [CHECKPOINT_DIR]]
//     MODELS_DIR      default: the models it was built with
//     CHECKPOINT_DIR  config.json, model.safetensors, tokens.txt (default: BERT-Tiny, seeded
//                     synthetic weights, 32 random tokens)
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <systemc>
#include <tlm>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <acceltran/compiler/compiler.hpp>
#include <acceltran/compiler/parts.hpp>
#include <acceltran/config/accelerator_config.hpp>
#include <acceltran/hw/accelerator_top.hpp>
#include <acceltran/hw/compute/fixed_point.hpp>
#include <acceltran/workload/float_reference.hpp>
#include <acceltran/workload/model.hpp>
#include <acceltran/workload/weights.hpp>

using namespace acceltran;

namespace {

// Two initiators (the CPU and the accelerator's DMA) onto one memory: b_transport and
// transport_dbg pass through unchanged (loosely timed; the memory never waits).
struct Interconnect : sc_core::sc_module {
  tlm_utils::simple_target_socket<Interconnect> from_cpu, from_accelerator;
  tlm_utils::simple_initiator_socket<Interconnect> to_memory;
  explicit Interconnect(sc_core::sc_module_name name)
      : sc_module(name),
        from_cpu("from_cpu"),
        from_accelerator("from_accelerator"),
        to_memory("to_memory") {
    for (auto* socket : {&from_cpu, &from_accelerator}) {
      socket->register_b_transport(this, &Interconnect::b_transport);
      socket->register_transport_dbg(this, &Interconnect::transport_dbg);
    }
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
    to_memory->b_transport(gp, delay);
  }
  unsigned int transport_dbg(tlm::tlm_generic_payload& gp) { return to_memory->transport_dbg(gp); }
};

// What the driver needs from the host side: the images to load, the program, the output.
struct Job {
  ProgrammableAccelerator* device = nullptr;
  const Program* program = nullptr;
  const BertWeights* weights = nullptr;
  const std::vector<std::vector<int32_t>>* tokens = nullptr;
};

// The zero-free image of a part (docs/memory.md, "Contents"): the non-zero Q4.16 words packed
// 20 bits each, then one mask bit per element (1: non-zero). Returns the part's values.
std::vector<double> decode_part(const std::vector<unsigned char>& image, uint64_t elements,
                                uint64_t data_bytes) {
  std::vector<double> values(elements, 0.0);
  uint64_t bit = 0;
  for (uint64_t e = 0; e < elements; ++e) {
    if (!(image[data_bytes + e / 8] >> (e % 8) & 1)) continue;
    uint32_t word = 0;
    for (int k = 0; k < fx::kWordBits; ++k, ++bit)
      word |= uint32_t{static_cast<uint32_t>(image[bit / 8] >> (bit % 8) & 1)} << k;
    values[e] = fx::to_double(static_cast<int32_t>(word << 12) >> 12);  // sign-extend 20 bits
  }
  return values;
}

struct CpuDriver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<CpuDriver> bus, csr;
  sc_core::sc_in<bool> irq;
  Job job;
  int failures = 0;
  SC_HAS_PROCESS(CpuDriver);
  explicit CpuDriver(sc_core::sc_module_name name) : sc_module(name), bus("bus"), csr("csr") {
    SC_THREAD(run);
  }

  void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    failures += ok ? 0 : 1;
  }
  void access(tlm_utils::simple_initiator_socket<CpuDriver>& socket, bool write, uint64_t address,
              unsigned char* data, unsigned bytes) {
    tlm::tlm_generic_payload gp;
    gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    gp.set_address(address);
    gp.set_data_ptr(data);
    gp.set_data_length(bytes);
    gp.set_streaming_width(bytes);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(gp, delay);
    sc_core::wait(delay);
    if (gp.is_response_error()) check(false, "access at " + std::to_string(address));
  }
  void write_memory(uint64_t address, const unsigned char* data, uint64_t bytes) {
    constexpr uint64_t kChunkBytes = 4096;
    std::vector<unsigned char> chunk;
    for (uint64_t done = 0; done < bytes; done += kChunkBytes) {
      const uint64_t n = std::min(kChunkBytes, bytes - done);
      chunk.assign(data + done, data + done + n);
      access(bus, true, address + done, chunk.data(), static_cast<unsigned>(n));
    }
  }
  void write_register(uint64_t offset, uint32_t value) {
    unsigned char bytes[4];
    std::memcpy(bytes, &value, 4);
    access(csr, true, offset, bytes, 4);
  }
  uint32_t read_register(uint64_t offset) {
    unsigned char bytes[4] = {};
    access(csr, false, offset, bytes, 4);
    uint32_t value = 0;
    std::memcpy(&value, bytes, 4);
    return value;
  }

  uint64_t load_inputs();
  uint64_t start_and_wait(uint64_t program_base);
  void check_output();
  void clear_output();
  void run() {
    const uint64_t program_base = load_inputs();
    const uint64_t first_cycles = start_and_wait(program_base);
    check_output();
    clear_output();  // the second run must write the output again
    const uint64_t second_cycles = start_and_wait(program_base);
    check_output();
    std::printf("cpu: two runs of the program: %llu and %llu cycles\n",
                static_cast<unsigned long long>(first_cycles),
                static_cast<unsigned long long>(second_cycles));
  }
};

// Weights and token embeddings at their homes, the program above them (docs/memory.md,
// "Address map"). Returns the program's base.
uint64_t CpuDriver::load_inputs() {
  const Accelerator& accelerator = *job.device->accelerator;
  uint64_t image_bytes = 0;
  std::vector<unsigned char> image;
  for (const auto& [address, bytes] : accelerator.initial_image) {
    image.resize(bytes);
    accelerator.memory_contents->read(address, image.data(), bytes);
    write_memory(address, image.data(), bytes);
    image_bytes += bytes;
  }
  const uint64_t program_base = accelerator.homes_end_bytes();
  const std::string& text = job.device->program_text();
  write_memory(program_base, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::printf(
      "cpu: wrote %zu weight and embedding parts (%llu bytes) and the program "
      "(%zu bytes at 0x%llx)\n",
      accelerator.initial_image.size(), static_cast<unsigned long long>(image_bytes), text.size(),
      static_cast<unsigned long long>(program_base));
  return program_base;
}

// Runs the program once (registers programmed, START, the interrupt); returns CYCLES.
uint64_t CpuDriver::start_and_wait(uint64_t program_base) {
  check(read_register(registers::kId) == registers::kIdValue, "ID register");
  write_register(registers::kProgramBaseLow, static_cast<uint32_t>(program_base));
  write_register(registers::kProgramBaseHigh, static_cast<uint32_t>(program_base >> 32));
  write_register(registers::kProgramLength,
                 static_cast<uint32_t>(job.device->program_text().size()));
  write_register(registers::kInterruptEnable, registers::kInterruptBit);
  write_register(registers::kControl, registers::kStart);
  sc_core::wait(irq.posedge_event());
  const uint32_t status = read_register(registers::kStatus);
  const uint32_t error = read_register(registers::kErrorCode);
  const uint64_t cycles =
      uint64_t{read_register(registers::kCyclesHigh)} << 32 | read_register(registers::kCyclesLow);
  std::printf("cpu: interrupt at %s: status %u, error code %u, %llu cycles (fetch %u)\n",
              sc_core::sc_time_stamp().to_string().c_str(), status, error,
              static_cast<unsigned long long>(cycles), read_register(registers::kFetchCycles));
  check(status == static_cast<uint32_t>(registers::Status::done) && error == 0, "run done");
  write_register(registers::kInterruptStatus, registers::kInterruptBit);  // acknowledge
  sc_core::wait(sc_core::SC_ZERO_TIME);
  sc_core::wait(sc_core::SC_ZERO_TIME);
  check(!irq.read(), "interrupt cleared");
  return cycles;
}

// Zeroes every output part's bytes in memory (over the bus).
void CpuDriver::clear_output() {
  const Accelerator& accelerator = *job.device->accelerator;
  const Tensor& out = job.program->tensors[accelerator.datapath->layer_outputs().back()];
  std::vector<unsigned char> image;
  for (uint32_t part = 0; part < part_grid(out).parts(); ++part) {
    uint64_t data_bytes = 0, mask_bytes = 0;
    accelerator.datapath->pack_part(out.id, part, image, data_bytes, mask_bytes);
    std::fill(image.begin(), image.end(), 0);
    write_memory(accelerator.control_block->part_address(out.id, part), image.data(), image.size());
  }
  std::printf("cpu: zeroed the output %s in memory\n", out.name.c_str());
}

// The output tensor's parts, read from memory with transport_dbg: the accelerator's functional
// model's bytes exactly, and values close to the float reference's.
void CpuDriver::check_output() {
  const Accelerator& accelerator = *job.device->accelerator;
  const Program& prog = *job.program;
  const Tensor& out = prog.tensors[accelerator.datapath->layer_outputs().back()];
  const PartGrid grid = part_grid(out);
  std::vector<ReferenceResult> reference;
  for (const auto& sequence : *job.tokens)
    reference.push_back(run_float_reference(*job.weights, sequence));
  bool same_bytes = true;
  double max_error = 0, dot = 0, norm_out = 0, norm_ref = 0;
  for (uint32_t part = 0; part < grid.parts(); ++part) {
    std::vector<unsigned char> expect, got;
    uint64_t data_bytes = 0, mask_bytes = 0;
    accelerator.datapath->pack_part(out.id, part, expect, data_bytes, mask_bytes);
    got.assign(expect.size(), 0);
    tlm::tlm_generic_payload gp;
    gp.set_command(tlm::TLM_READ_COMMAND);
    gp.set_address(accelerator.control_block->part_address(out.id, part));
    gp.set_data_ptr(got.data());
    gp.set_data_length(static_cast<unsigned>(got.size()));
    same_bytes = same_bytes && bus->transport_dbg(gp) == got.size() && got == expect;
    const std::vector<double> values = decode_part(got, part_elements(out, grid, part), data_bytes);
    int64_t at[3], rest = part;
    for (int d = 2; d >= 0; --d) {
      at[d] = rest % grid.count[d];
      rest /= grid.count[d];
    }
    size_t e = 0;
    for (int64_t b = at[0] * grid.size[0]; b < std::min(out.batch, (at[0] + 1) * grid.size[0]); ++b)
      for (int64_t r = at[1] * grid.size[1]; r < std::min(out.rows, (at[1] + 1) * grid.size[1]);
           ++r)
        for (int64_t c = at[2] * grid.size[2]; c < std::min(out.cols, (at[2] + 1) * grid.size[2]);
             ++c, ++e) {
          const double x = values[e];
          const double y = reference[static_cast<size_t>(b)].hidden.back().data[r * out.cols + c];
          max_error = std::max(max_error, std::fabs(x - y));
          dot += x * y, norm_out += x * x, norm_ref += y * y;
        }
  }
  check(same_bytes, "output bytes in memory = the accelerator's functional model");
  const double cosine = dot / std::sqrt(norm_out * norm_ref);
  std::printf("cpu: output %s vs the float reference: cosine %.6f, max |error| %.4f\n",
              out.name.c_str(), cosine, max_error);
  check(cosine > 0.999 && max_error < 0.01,
        "output close to the float reference (cosine > 0.999, max |error| < 0.01)");
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  const std::string models = argc > 1 ? argv[1] : MODELS_DIR;
  const Technology tech = load_technology(models + "/technology.yaml");
  const DesignSpace space = load_design_space(models + "/design_space.yaml");
  const AcceleratorConfig cfg = load_accelerator(models + "/accelerators/edge.yaml", space, tech);
  // BERT-Tiny, one sequence of 32 tokens, seeded synthetic weights and tokens; or a checkpoint
  // folder: config.json (Hugging Face), model.safetensors and tokens.txt (one sequence a line).
  const std::string checkpoint = argc > 2 ? argv[2] : "";
  const std::string model_file =
      checkpoint.empty() ? models + "/transformers/bert-tiny.json" : checkpoint + "/config.json";
  const BertConfig config = load_bert_config(model_file);
  const BertWeights weights = checkpoint.empty()
                                  ? synthetic_bert_weights(config, 1)
                                  : load_bert_weights(checkpoint + "/model.safetensors", config);
  CompileOptions compile;
  compile.seq_len = 32;
  std::vector<std::vector<int32_t>> tokens;
  if (!checkpoint.empty()) {
    tokens = read_tokens(checkpoint + "/tokens.txt", config).sequences;
    compile.batch = static_cast<int64_t>(tokens.size());
    compile.seq_len = static_cast<int64_t>(tokens.front().size());
  }
  const Program prog = compile_program(load_model(model_file), cfg, tech, compile);
  if (checkpoint.empty())
    tokens = random_tokens(prog.info.batch, prog.info.seq_len, config, 1).sequences;
  FunctionalInput input;
  input.weights = &weights;
  input.tokens = tokens;
  input.tokens_source = checkpoint.empty() ? "random" : checkpoint + "/tokens.txt";
  RunOptions options;
  options.functional = &input;
  options.sim.check_protocol = true;

  ProgrammableAccelerator device("device", prog, cfg, tech, options);
  MainMemory memory("memory", cfg.main_memory, tech, load_memory_timing(models + "/memory.yaml"),
                    options.sim);
  SparseDataStore contents;
  memory.attach_store(&contents);
  Interconnect interconnect("interconnect");
  CpuDriver cpu("cpu");
  cpu.job = Job{&device, &prog, &weights, &input.tokens};
  cpu.bus.bind(interconnect.from_cpu);
  device.memory_socket().bind(interconnect.from_accelerator);
  interconnect.to_memory.bind(memory.socket);
  cpu.csr.bind(device.register_socket());
  cpu.irq.bind(device.registers.interrupt);
  sc_core::sc_start();
  std::printf("virtual platform: %s\n", cpu.failures == 0 ? "every check passed" : "FAILED");
  return cpu.failures == 0 ? 0 : 1;
}

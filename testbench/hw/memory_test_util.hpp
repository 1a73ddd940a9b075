// Shared helpers for the memory-subsystem testbenches (tag [memory]).
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <string>

#include "acceltran/config/accelerator_config.hpp"
#include "acceltran/hw/memory/memory_timing.hpp"
#include "acceltran/tlm/protocol.hpp"

namespace acceltran::memtest {

// SystemC elaborates once per process. When an earlier test case of this process has already
// started the kernel (e.g. `hw_tests "[memory]"`), the current test case is run again, alone, in
// a fresh process (this executable with the test name as filter) and its exit status is the
// result. Run alone (CTest), a test case runs in-process as usual.
inline int rerun_in_child(const std::string& test_name) {
  // The test name as a Catch test spec: characters special to the spec parser are escaped, and
  // `--warn NoTests` makes a spec that matches nothing a failure (Catch2 exits 0 otherwise).
  std::string name;
  for (char c : test_name) {
    if (c == '\\' || c == ',' || c == '[' || c == ']' || c == '"' || c == '*' || c == '~')
      name.push_back('\\');
    name.push_back(c);
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "hw_tests", "--warn", "NoTests", name.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
#define MEMTEST_ISOLATE()                                                \
  do {                                                                   \
    if (sc_core::sc_get_status() != sc_core::SC_ELABORATION) {           \
      INFO("re-run in a fresh process: the kernel has already started"); \
      REQUIRE(::acceltran::memtest::rerun_in_child(                      \
                  Catch::getResultCapture().getCurrentTestName()) == 0); \
      return;                                                            \
    }                                                                    \
  } while (0)

inline std::string models() {
  return ACCELTRAN_MODELS_DIR_FOR_TESTS;
}
inline Technology tech() {
  return load_technology(models() + "/technology.yaml");
}
inline DesignSpace space() {
  return load_design_space(models() + "/design_space.yaml");
}
inline MemoryTimingTable timing() {
  return load_memory_timing(models() + "/memory.yaml");
}
inline AcceleratorConfig accel(const std::string& name) {
  Technology t = tech();
  return load_accelerator(models() + "/accelerators/" + name + ".yaml", space(), t);
}
inline MainMemoryConfig mem(MemoryType type, const std::string& bw, int banks, int ranks,
                            int channels) {
  MainMemoryConfig c;
  c.type = type;
  c.bandwidth_class = bw;
  c.banks = banks;
  c.ranks = ranks;
  c.channels = channels;
  return c;
}

// A test initiator: runs `script` in an SC_THREAD. transfer() issues one blocking transport
// and returns the annotated delay (the caller decides whether to wait for it).
struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket;
  std::function<void(Driver&)> script;
  SC_HAS_PROCESS(Driver);
  Driver(sc_core::sc_module_name n, std::function<void(Driver&)> s)
      : sc_module(n), socket("socket"), script(std::move(s)) {
    SC_THREAD(run);
  }
  void run() { script(*this); }
  sc_core::sc_time transfer(bool write, uint64_t address, uint64_t bytes,
                            proto::TransferExt* ext = nullptr,
                            sc_core::sc_time delay = sc_core::SC_ZERO_TIME) {
    tlm::tlm_generic_payload gp;
    proto::set_transfer(gp, write, address, static_cast<unsigned int>(bytes));
    if (ext) gp.set_extension(ext);
    struct Detach {  // ext is the caller's: detach it even when the target throws
      tlm::tlm_generic_payload& gp;
      proto::TransferExt* ext;
      ~Detach() {
        if (ext) gp.clear_extension(ext);
      }
    } detach{gp, ext};
    socket->b_transport(gp, delay);
    last_ok = gp.is_response_ok();
    last_status = gp.get_response_status();
    return delay;
  }
  bool last_ok = false;
  tlm::tlm_response_status last_status = tlm::TLM_INCOMPLETE_RESPONSE;
};

}  // namespace acceltran::memtest

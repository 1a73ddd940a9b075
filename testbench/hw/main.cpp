// Test runner for SystemC testbenches: libsystemc provides main() and calls sc_main().
// CTest runs each test case in its own process (catch_discover_tests), because a SystemC
// process can elaborate only once.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

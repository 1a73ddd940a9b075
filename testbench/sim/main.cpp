// Full-model tests: run the `acceltran` tool (one simulation per process) and check invariants
// and golden figures of its report.json.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

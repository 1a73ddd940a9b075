// Design-space exploration tests: --set / base: overrides, `acceltran sweep` (local pool,
// resume, failures, collect, Slurm script) and `acceltran plot`. Each runs the acceltran tool.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

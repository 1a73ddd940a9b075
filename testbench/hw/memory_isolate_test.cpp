// MEMTEST_ISOLATE re-runs a test case in a fresh process by name: a name that matches no test
// case must fail instead of passing vacuously (Catch2 exits 0 when a filter matches nothing),
// and a name with characters special to Catch's test-spec parser must still find its test.
#include "memory_test_util.hpp"

TEST_CASE("memtest isolate: target, with [spec] characters", "[memory]") {
  SUCCEED("found by its escaped name");
}

TEST_CASE("memtest isolate: re-run by name passes only when the name matches a test", "[memory]") {
  CHECK(acceltran::memtest::rerun_in_child("memtest isolate: no such test case") != 0);
  CHECK(acceltran::memtest::rerun_in_child("memtest isolate: target, with [spec] characters") == 0);
}

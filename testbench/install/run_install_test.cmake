# CTest driver (testbench/CMakeLists.txt, test "install: ..."): installs the build tree into a
# temporary prefix, builds the out-of-tree consumer against the installed package, runs it, and
# runs the installed acceltran on the installed models. Variables: BUILD_DIR, SOURCE_DIR, WORK.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(prefix "${WORK}/prefix")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f bin/acceltran lib/cmake/AccelTranSC/AccelTranSCConfig.cmake
          include/acceltran/tlm/protocol_checker.hpp share/acceltran/models/technology.yaml)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/testbench/install/consumer" -B "${WORK}/consumer"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK}/consumer" -j2)
run(${CMAKE_COMMAND} -E env SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 "${WORK}/consumer/consumer")
message(STATUS "consumer: ${last_output}")
if(NOT last_output MATCHES "moved 4096 bytes: ok")
  message(FATAL_ERROR "consumer output: ${last_output}")
endif()
# The virtual-platform example on its own against the installed package: a CPU driver programs
# the accelerator through its registers and checks the output (docs/architecture.md).
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/virtual_platform" -B "${WORK}/virtual_platform"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK}/virtual_platform" -j1)
run(${CMAKE_COMMAND} -E env SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
    "${WORK}/virtual_platform/virtual_platform")
message(STATUS "virtual platform: ${last_output}")
if(NOT last_output MATCHES "virtual platform: every check passed")
  message(FATAL_ERROR "virtual platform output: ${last_output}")
endif()
# ... and on a checkpoint with its tokens, read by the installed loaders.
run(${CMAKE_COMMAND} -E env SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
    "${WORK}/virtual_platform/virtual_platform" "${prefix}/share/acceltran/models"
    "${SOURCE_DIR}/testbench/fixtures/bert-2l-64")
if(NOT last_output MATCHES "virtual platform: every check passed")
  message(FATAL_ERROR "virtual platform output (bert-2l-64): ${last_output}")
endif()
# The installed acceltran finds the installed models by itself (no ACCELTRAN_MODELS_DIR).
run(${CMAKE_COMMAND} -E env --unset=ACCELTRAN_MODELS_DIR SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
    "${prefix}/bin/acceltran" simulate --out "${WORK}/out")
if(NOT EXISTS "${WORK}/out/report.json")
  message(FATAL_ERROR "the installed acceltran wrote no report")
endif()
file(READ "${WORK}/out/report.json" report)
if(NOT report MATCHES "${prefix}/share/acceltran/models/accelerators/edge.yaml")
  message(FATAL_ERROR "the installed acceltran did not use the installed models")
endif()
file(REMOVE_RECURSE "${WORK}")

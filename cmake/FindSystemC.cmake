# FindSystemC: provides the imported target SystemC::systemc (SystemC 2.3 with TLM-2.0).
# 1. A user's own SystemC build (CMake config package SystemCLanguage, e.g. from
#    -DCMAKE_PREFIX_PATH=/opt/systemc or SYSTEMC_HOME).
# 2. pkg-config (`systemc`, as Debian's libsystemc-dev ships it; TLM is header-only).
include_guard(GLOBAL)
if(TARGET SystemC::systemc)
  set(SystemC_FOUND TRUE)
  return()
endif()

if(DEFINED ENV{SYSTEMC_HOME})
  list(APPEND CMAKE_PREFIX_PATH "$ENV{SYSTEMC_HOME}")
endif()
find_package(SystemCLanguage CONFIG QUIET)
if(SystemCLanguage_FOUND AND TARGET SystemC::systemc)
  message(STATUS "SystemC: config package SystemCLanguage ${SystemCLanguage_VERSION}")
  set(SystemC_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_SYSTEMC QUIET IMPORTED_TARGET systemc)
endif()
if(PC_SYSTEMC_FOUND)
  add_library(SystemC::systemc INTERFACE IMPORTED GLOBAL)
  target_link_libraries(SystemC::systemc INTERFACE PkgConfig::PC_SYSTEMC)
  message(STATUS "SystemC: pkg-config systemc ${PC_SYSTEMC_VERSION}")
  set(SystemC_FOUND TRUE)
else()
  set(SystemC_FOUND FALSE)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SystemC
  REQUIRED_VARS SystemC_FOUND
  FAIL_MESSAGE "SystemC not found: install libsystemc-dev (Debian) or set SYSTEMC_HOME / CMAKE_PREFIX_PATH to a SystemC 2.3 install")

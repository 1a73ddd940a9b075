# cmake --install: the `acceltran` command, models/, the headers and the static libraries with
# an exported CMake package, so that find_package(AccelTranSC) gives AccelTranSC::hw.
# Layout under the prefix:
#   bin/acceltran
#   include/acceltran/<room>/*.hpp     (config/, workload/, compiler/, tlm/, hw/ and its groups:
#                                       #include <acceltran/hw/memory/sram_buffer.hpp>)
#   lib/libacceltran_*.a
#   lib/cmake/AccelTranSC/             (AccelTranSCConfig.cmake, targets, FindSystemC.cmake)
#   share/acceltran/models/            (technology.yaml, accelerators/, transformers/, ...)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ACCELTRAN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/AccelTranSC)
set(ACCELTRAN_INSTALL_HEADERDIR ${CMAKE_INSTALL_INCLUDEDIR}/acceltran)
set(ACCELTRAN_ROOMS config workload compiler tlm hw)
set(ACCELTRAN_INSTALL_MODELSDIR ${CMAKE_INSTALL_DATADIR}/acceltran/models)

# The libraries publish the build tree's include root (acceltran/ -> the source root); installed,
# <prefix>/include replaces it.
foreach(t acceltran_config acceltran_workload acceltran_compiler acceltran_tlm acceltran_hw)
  get_target_property(dirs ${t} INTERFACE_INCLUDE_DIRECTORIES)
  set(wrapped "")
  foreach(d IN LISTS dirs)
    list(APPEND wrapped "$<BUILD_INTERFACE:${d}>")
  endforeach()
  list(APPEND wrapped "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${wrapped}")
endforeach()
set_target_properties(acceltran_hw PROPERTIES EXPORT_NAME hw)
set_target_properties(acceltran_tlm PROPERTIES EXPORT_NAME tlm)
set_target_properties(acceltran_compiler PROPERTIES EXPORT_NAME compiler)
set_target_properties(acceltran_workload PROPERTIES EXPORT_NAME workload)
set_target_properties(acceltran_config PROPERTIES EXPORT_NAME config)
set_target_properties(acceltran_warnings PROPERTIES EXPORT_NAME warnings)

install(TARGETS acceltran RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS acceltran_hw acceltran_tlm acceltran_compiler acceltran_workload acceltran_config
                acceltran_warnings
        EXPORT AccelTranSCTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(room IN LISTS ACCELTRAN_ROOMS)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${room}/ DESTINATION ${ACCELTRAN_INSTALL_HEADERDIR}/${room}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${ACCELTRAN_INSTALL_MODELSDIR})

install(EXPORT AccelTranSCTargets NAMESPACE AccelTranSC:: DESTINATION ${ACCELTRAN_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/AccelTranSCConfig.cmake.in
  ${PROJECT_BINARY_DIR}/AccelTranSCConfig.cmake
  INSTALL_DESTINATION ${ACCELTRAN_INSTALL_CMAKEDIR}
  PATH_VARS ACCELTRAN_INSTALL_MODELSDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/AccelTranSCConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/AccelTranSCConfig.cmake
              ${PROJECT_BINARY_DIR}/AccelTranSCConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindSystemC.cmake
        DESTINATION ${ACCELTRAN_INSTALL_CMAKEDIR})

# The functional runs' matrix products (workload/blas.cpp: the data path's exact dgemm,
# hw/compute/exact_gemm.cpp, and the float reference's sgemm): OpenBLAS when
# found (Debian: libopenblas-dev, found with pkg-config as `openblas`, else with CMake's FindBLAS
# for vendor OpenBLAS), otherwise the portable kernels. The data path's results are the same bits
# either way (docs/compute.md, "Exact matrix products"); the float reference's differ by float
# rounding only (another summation order). Configure prints which kernel the build uses.
# -DACCELTRAN_USE_BLAS=OFF builds the portable kernel even when OpenBLAS is installed.
#
# acceltran_use_blas(TARGET): compiles TARGET with OpenBLAS's cblas.h and
# ACCELTRAN_HAVE_OPENBLAS; the library is not linked but loaded (dlopen) at a run's first matrix
# product, as libopenblas.so.0 or else the library found here (ACCELTRAN_OPENBLAS_LIBRARY):
# loading OpenBLAS starts its thread pool, which costs every process several ms of CPU, and only
# functional runs multiply matrices.
option(ACCELTRAN_USE_BLAS "Use OpenBLAS (dgemm, sgemm) for the functional runs' products when found" ON)

function(acceltran_use_blas target)
  set(libraries "")
  set(includes "")
  if(ACCELTRAN_USE_BLAS)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(ACCELTRAN_OPENBLAS QUIET openblas)
    endif()
    if(ACCELTRAN_OPENBLAS_FOUND)
      list(GET ACCELTRAN_OPENBLAS_LINK_LIBRARIES 0 libraries)
      set(includes ${ACCELTRAN_OPENBLAS_INCLUDE_DIRS})
      set(found "OpenBLAS ${ACCELTRAN_OPENBLAS_VERSION} (pkg-config openblas)")
    else()
      set(BLA_VENDOR OpenBLAS)
      find_package(BLAS QUIET)
      if(BLAS_FOUND)
        find_path(ACCELTRAN_OPENBLAS_CBLAS_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
        if(ACCELTRAN_OPENBLAS_CBLAS_DIR)
          list(GET BLAS_LIBRARIES 0 libraries)
          set(includes ${ACCELTRAN_OPENBLAS_CBLAS_DIR})
          set(found "OpenBLAS (FindBLAS)")
        endif()
      endif()
    endif()
  endif()
  # For the testbench: whether the build's kernel is OpenBLAS (it checks that the run uses it).
  set(ACCELTRAN_EXACT_GEMM_OPENBLAS "$<BOOL:${libraries}>" CACHE INTERNAL "")
  if(libraries)
    target_link_libraries(${target} PRIVATE ${CMAKE_DL_LIBS})
    target_include_directories(${target} SYSTEM PRIVATE ${includes})
    target_compile_definitions(${target} PRIVATE ACCELTRAN_HAVE_OPENBLAS=1
                                                 ACCELTRAN_OPENBLAS_LIBRARY="${libraries}")
    message(STATUS "AccelTran-SC functional GEMM: ${found} dgemm and sgemm, loaded at run time "
                   "(libopenblas.so.0, else ${libraries})")
  elseif(ACCELTRAN_USE_BLAS)
    message(STATUS "AccelTran-SC functional GEMM: portable kernel (OpenBLAS not found; "
                   "install libopenblas-dev for faster functional runs)")
  else()
    message(STATUS "AccelTran-SC functional GEMM: portable kernel (ACCELTRAN_USE_BLAS=OFF)")
  endif()
endfunction()

# Debian packages through CPack, split the Debian way (as libzstd1 / libzstd-dev / zstd):
#   libautoenc0    component runtime:     the shared library and its SONAME link
#   libautoenc-dev component development: header, .so link, autoenc.pc, CMake package,
#                                         guides and HTML reference
#   autoenc-tools  component tools:       the autoenc tool and its manual page (when built)
# Made from a build configured for them (prefix /usr, guides in the -dev package's folder;
# docs/packaging.md has the commands, .ci/run runs them), with
#   cpack --config build-deb/CPackConfig.cmake -G DEB -B build-deb/packages
# cpack refuses other builds and says why (cmake/debian/cpack-config.cmake).
# Included last from the top-level CMakeLists.txt, once every target exists.

set(AE_DEB_MAINTAINER "libautoenc maintainers <maintainers@users.noreply.r-seed-e8a09b4f.example>"
  CACHE STRING "Maintainer field of the Debian packages")
set(_ae_deb ${PROJECT_SOURCE_DIR}/cmake/debian)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${_ae_deb}/changelog ${PROJECT_SOURCE_DIR}/tests/abi/exported-symbols.txt)

# The Debian revision comes from the newest entry of cmake/debian/changelog, whose
# upstream part must be the version in autoenc.h. A mismatch warns here and stops cpack.
set(_ae_deb_problems "")
file(STRINGS ${_ae_deb}/changelog _ae_top LIMIT_COUNT 1)
if(_ae_top MATCHES "^libautoenc \\(([^)-]+)-([^)]+)\\) ")
  set(_ae_deb_upstream ${CMAKE_MATCH_1})
  set(_ae_deb_revision ${CMAKE_MATCH_2})
else()
  set(_ae_deb_upstream "?")
  set(_ae_deb_revision 1)
endif()
if(NOT _ae_deb_upstream STREQUAL PROJECT_VERSION)
  set(_ae_message "cmake/debian/changelog starts at ${_ae_deb_upstream}, autoenc.h says \
${PROJECT_VERSION}: add an entry (${PROJECT_VERSION}-1) at its top (docs/packaging.md)")
  message(WARNING "${_ae_message}")
  list(APPEND _ae_deb_problems "${_ae_message}")
endif()
# Files go where Debian wants them: /usr, the multiarch library folder, and the guides in
# the -dev package's own documentation folder.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  list(APPEND _ae_deb_problems "CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}, not /usr")
endif()
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT CMAKE_INSTALL_LIBDIR STREQUAL "lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  list(APPEND _ae_deb_problems
    "CMAKE_INSTALL_LIBDIR is ${CMAKE_INSTALL_LIBDIR}, not lib/${CMAKE_LIBRARY_ARCHITECTURE}")
endif()
if(NOT CMAKE_INSTALL_DOCDIR STREQUAL "share/doc/libautoenc-dev")
  list(APPEND _ae_deb_problems
    "CMAKE_INSTALL_DOCDIR is ${CMAKE_INSTALL_DOCDIR}, not share/doc/libautoenc-dev")
endif()
if(NOT AE_SANITIZE STREQUAL "")
  list(APPEND _ae_deb_problems "AE_SANITIZE is ${AE_SANITIZE}: packages are made from a plain build")
endif()

# What every Debian binary package carries in /usr/share/doc/<package>/: the copyright
# file and the Debian changelog, compressed as lintian wants (gzip -9, no timestamp or
# name, so the bytes are the same on every architecture). These rules only run for an
# explicit component (cpack, or cmake --install --component), not in a plain install.
find_program(AE_GZIP gzip REQUIRED)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/debian)
execute_process(COMMAND ${AE_GZIP} -9nc ${_ae_deb}/changelog
  OUTPUT_FILE ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz RESULT_VARIABLE _ae_rc)
if(NOT _ae_rc EQUAL 0)
  message(FATAL_ERROR "gzip -9n cmake/debian/changelog failed")
endif()

set(AE_DEB_COMPONENTS runtime development)
if(TARGET autoenc_cli)
  list(APPEND AE_DEB_COMPONENTS tools)
elseif(AE_BUILD_TOOLS AND EXISTS ${PROJECT_SOURCE_DIR}/tools/autoenc/CMakeLists.txt)
  list(APPEND _ae_deb_problems "tools/autoenc is built but defines no target autoenc_cli for autoenc-tools")
endif()
# libautoenc_mpi (built when Open MPI is found) gets its own pair, so that the core's
# packages never pull in Open MPI: libautoenc-mpi0 and libautoenc-mpi-dev. The tool
# links it then (train --distributed), so autoenc-tools depends on libautoenc-mpi0.
if(TARGET autoenc_mpi)
  list(APPEND AE_DEB_COMPONENTS mpi mpi_development)
endif()
set(_ae_pkg_runtime libautoenc${PROJECT_VERSION_MAJOR})
set(_ae_pkg_development libautoenc-dev)
set(_ae_pkg_tools autoenc-tools)
set(_ae_pkg_mpi libautoenc-mpi${PROJECT_VERSION_MAJOR})
set(_ae_pkg_mpi_development libautoenc-mpi-dev)
foreach(_ae_comp IN LISTS AE_DEB_COMPONENTS)
  install(FILES ${_ae_deb}/copyright ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_ae_pkg_${_ae_comp}}
    COMPONENT ${_ae_comp} EXCLUDE_FROM_ALL)
endforeach()

# The symbols file of libautoenc0 (cmake/debian/libautoenc0.symbols) dates each function
# at the first packaged version that has it, so that dpkg-shlibdeps asks for no newer
# library than a program needs. A function of the checked-in export list (which the ABI
# tests keep equal to the library) that the file lacks is new in this version: it is
# dated ${PROJECT_VERSION} in the package, and a warning asks for the line to be added.
# A dated function the library no longer exports stops cpack: that is an ABI break.
set(_ae_symbols_file ${_ae_deb}/${_ae_pkg_runtime}.symbols)
if(EXISTS ${_ae_symbols_file})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_ae_symbols_file})
  file(STRINGS ${PROJECT_SOURCE_DIR}/tests/abi/exported-symbols.txt _ae_exported REGEX "^ae_")
  file(STRINGS ${_ae_symbols_file} _ae_symbol_lines REGEX "^ ae_")
  set(_ae_dated ${_ae_symbol_lines})
  list(TRANSFORM _ae_dated REPLACE "^ ([^@]+)@.*$" "\\1")
  set(_ae_new ${_ae_exported})
  set(_ae_gone ${_ae_dated})
  if(_ae_dated)
    list(REMOVE_ITEM _ae_new ${_ae_dated})
  endif()
  if(_ae_exported)
    list(REMOVE_ITEM _ae_gone ${_ae_exported})
  endif()
  if(_ae_gone)
    list(JOIN _ae_gone ", " _ae_gone)
    list(APPEND _ae_deb_problems "cmake/debian/${_ae_pkg_runtime}.symbols dates functions the \
library no longer exports: ${_ae_gone}")
  endif()
  if(_ae_new)
    list(TRANSFORM _ae_new REPLACE "^(.+)$" " \\1@Base ${PROJECT_VERSION}")
    list(APPEND _ae_symbol_lines ${_ae_new})
    list(JOIN _ae_new "\n" _ae_new)
    message(WARNING "Functions new in ${PROJECT_VERSION} are missing from "
      "cmake/debian/${_ae_pkg_runtime}.symbols (docs/packaging.md); add these lines:\n${_ae_new}")
  endif()
  list(SORT _ae_symbol_lines)
  file(STRINGS ${_ae_symbols_file} _ae_symbols_head LIMIT_COUNT 2)
  list(GET _ae_symbols_head 0 _ae_soname_line)
  if(NOT _ae_soname_line STREQUAL "libautoenc.so.${PROJECT_VERSION_MAJOR} ${_ae_pkg_runtime} #MINVER#")
    list(APPEND _ae_deb_problems "cmake/debian/${_ae_pkg_runtime}.symbols must start with \
\"libautoenc.so.${PROJECT_VERSION_MAJOR} ${_ae_pkg_runtime} #MINVER#\"")
  endif()
  list(JOIN _ae_symbols_head "\n" _ae_symbols)
  list(JOIN _ae_symbol_lines "\n" _ae_symbol_lines)
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/debian/symbols
    CONTENT "${_ae_symbols}\n${_ae_symbol_lines}\n" @ONLY)
else()
  list(APPEND _ae_deb_problems "no symbols file cmake/debian/${_ae_pkg_runtime}.symbols")
endif()

# The symbols file of libautoenc-mpi0: every function the header declares, dated like
# the core's. A declared function the file lacks, or a dated one the header dropped,
# stops cpack (the MPI library exports exactly the header's ae_mpi_ functions).
if(TARGET autoenc_mpi)
  set(_ae_mpi_symbols_file ${_ae_deb}/${_ae_pkg_mpi}.symbols)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_ae_mpi_symbols_file}
    ${PROJECT_SOURCE_DIR}/include/autoenc_mpi.h)
  file(STRINGS ${PROJECT_SOURCE_DIR}/include/autoenc_mpi.h _ae_mpi_declared
    REGEX "^AE_MPI_API .*[ *]ae_mpi_[a-z_]+\\(")
  list(TRANSFORM _ae_mpi_declared REPLACE "^.*[ *](ae_mpi_[a-z_]+)\\(.*$" "\\1")
  set(_ae_mpi_dated "")
  if(EXISTS ${_ae_mpi_symbols_file})
    file(STRINGS ${_ae_mpi_symbols_file} _ae_mpi_dated REGEX "^ ae_mpi_")
    list(TRANSFORM _ae_mpi_dated REPLACE "^ ([^@]+)@.*$" "\\1")
  endif()
  list(SORT _ae_mpi_declared)
  list(SORT _ae_mpi_dated)
  if(NOT _ae_mpi_declared STREQUAL _ae_mpi_dated)
    list(APPEND _ae_deb_problems "cmake/debian/${_ae_pkg_mpi}.symbols does not list exactly \
the functions of include/autoenc_mpi.h (add new ones dated ${PROJECT_VERSION})")
  endif()
  if(EXISTS ${_ae_mpi_symbols_file}) # CPack takes a control file by its own name
    configure_file(${_ae_mpi_symbols_file} ${PROJECT_BINARY_DIR}/debian/mpi/symbols COPYONLY)
  endif()
endif()

# CPack: one package per component, installed to /usr, binaries stripped.
set(CPACK_PACKAGE_NAME libautoenc)
set(CPACK_PACKAGE_VENDOR "libautoenc maintainers")
set(CPACK_PACKAGE_CONTACT "${AE_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${AE_DEB_COMPONENTS})
set(CPACK_PROJECT_CONFIG_FILE ${_ae_deb}/cpack-config.cmake)
set(CPACK_PRE_BUILD_SCRIPTS ${_ae_deb}/prepare-staging.cmake)
set(CPACK_POST_BUILD_SCRIPTS ${_ae_deb}/finish-deb.cmake)
# Read at cpack time by the three scripts above.
set(CPACK_AE_DEB_PROBLEMS "${_ae_deb_problems}")
set(CPACK_AE_STRIP "${CMAKE_STRIP}")
set(CPACK_AE_MULTIARCH "${_ae_pkg_runtime}=same;${_ae_pkg_development}=same;${_ae_pkg_tools}=foreign;\
${_ae_pkg_mpi}=same;${_ae_pkg_mpi_development}=same")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${_ae_deb_revision})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${AE_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SOURCE libautoenc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# dpkg-shlibdeps finds libautoenc.so.0 (and libautoenc_mpi.so.0) for the tool here (they
# have no package yet to look in).
get_target_property(_ae_library_dir autoenc BINARY_DIR)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${_ae_library_dir})
if(TARGET autoenc_mpi)
  get_target_property(_ae_mpi_library_dir autoenc_mpi BINARY_DIR)
  list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${_ae_mpi_library_dir})
endif()

set(_ae_about "libautoenc trains and runs deep stacked autoencoders: dense encoder and
decoder layers of any depth, computed with cblas_sgemm (OpenBLAS). It covers
compression and reconstruction, latent features, denoising, sparse,
contractive and dropout-regularised models, variational autoencoders,
greedy layer-wise pre-training and weight transfer, anomaly scores, and
checksummed model files, behind a plain C ABI made for bindings.")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_ae_pkg_runtime})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "deep stacked autoencoders on OpenBLAS - shared library
${_ae_about}
.
This package contains the shared library.")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON) # only the two library packages hold a library
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/symbols ${_ae_deb}/triggers)

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME ${_ae_pkg_development})
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SHLIBDEPS OFF)
# The exact library it was built with. Nothing of OpenBLAS's development files: autoenc.h
# includes none of its headers, autoenc.pc requires no openblas.pc, and linking -lautoenc
# needs only libopenblas.so.0, which libautoenc0 pulls in.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "${_ae_pkg_runtime} (= ${PROJECT_VERSION}-${_ae_deb_revision})")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION "deep stacked autoencoders on OpenBLAS - development files
${_ae_about}
.
This package contains the header autoenc.h, the pkg-config file autoenc.pc,
the CMake package (find_package(autoenc), target autoenc::autoenc), the
guides and the HTML API reference.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ${_ae_pkg_tools})
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION science)
# dpkg-shlibdeps finds no package for libautoenc.so.0 yet: the library the tool was built with.
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${_ae_pkg_runtime} (>= ${PROJECT_VERSION})")
if(TARGET autoenc_mpi)
  string(APPEND CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS ", ${_ae_pkg_mpi} (>= ${PROJECT_VERSION})")
endif()
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "deep stacked autoencoders on OpenBLAS - command-line tool
${_ae_about}
.
This package contains the autoenc command-line tool and its manual page:
train a model on NPY, IDX or CSV data, then encode, decode, reconstruct,
score and detect anomalies, sample and interpolate, from the shell.")

if(TARGET autoenc_mpi)
  set(CPACK_DEBIAN_MPI_PACKAGE_NAME ${_ae_pkg_mpi})
  set(CPACK_DEBIAN_MPI_PACKAGE_SECTION libs)
  # dpkg-shlibdeps gives libopenmpi3 and libc6; libautoenc0 it cannot find in a package yet.
  set(CPACK_DEBIAN_MPI_PACKAGE_DEPENDS "${_ae_pkg_runtime} (>= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_MPI_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/mpi/symbols ${_ae_deb}/triggers)
  set(CPACK_DEBIAN_MPI_DESCRIPTION "deep stacked autoencoders on OpenBLAS - MPI training library
${_ae_about}
.
This package contains libautoenc_mpi, which trains one model over the
processes of an MPI job (Open MPI): data-parallel, gradients averaged with
non-blocking allreduces overlapped with the backward pass, every decision
taken from global figures.")

  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_NAME ${_ae_pkg_mpi_development})
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_SECTION libdevel)
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_DEPENDS
    "${_ae_pkg_mpi} (= ${PROJECT_VERSION}-${_ae_deb_revision}), \
${_ae_pkg_development} (= ${PROJECT_VERSION}-${_ae_deb_revision}), libopenmpi-dev")
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_DESCRIPTION "deep stacked autoencoders on OpenBLAS - MPI development files
${_ae_about}
.
This package contains the header autoenc_mpi.h, the pkg-config file
autoenc_mpi.pc and the CMake package (find_package(autoenc_mpi), target
autoenc::autoenc_mpi) of libautoenc_mpi.")
endif()

include(CPack)

# CPACK_PROJECT_CONFIG_FILE: read by cpack for each generator. Debian packages are only
# made from a build laid out for them, with cmake/debian/ up to date with the sources
# (cmake/AutoencPackaging.cmake lists the problems at configure time).
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
if(CPACK_AE_DEB_PROBLEMS)
  list(JOIN CPACK_AE_DEB_PROBLEMS "\n  " _problems)
  message(FATAL_ERROR "This build cannot make Debian packages:\n  ${_problems}\n"
    "docs/packaging.md gives the build for them:\n"
    "  cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_DOCDIR=share/doc/libautoenc-dev ...")
endif()

# Each package's description starts with its own synopsis; CPack's DEB generator would
# put the project's one-line summary above it.
unset(CPACK_PACKAGE_DESCRIPTION_SUMMARY)

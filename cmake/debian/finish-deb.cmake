# CPACK_POST_BUILD_SCRIPTS: two things CPack 3.25 cannot write into a .deb. Each package
# is unpacked with dpkg-deb, changed, and packed again (owner root, same files):
# - the Multi-Arch field (CPACK_AE_MULTIARCH: package=value;...);
# - the ldconfig call: CPack puts one into postinst/postrm of a package holding a library,
#   where Debian wants the `activate-noawait ldconfig` trigger the package already has.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
find_program(DPKG_DEB dpkg-deb REQUIRED)

function(ae_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${command} failed:\n${out}${err}")
  endif()
endfunction()

foreach(deb IN LISTS CPACK_PACKAGE_FILES)
  set(root "${deb}.root")
  file(REMOVE_RECURSE "${root}")
  ae_run(${DPKG_DEB} --raw-extract "${deb}" "${root}")
  file(READ "${root}/DEBIAN/control" control)
  if(NOT control MATCHES "(^|\n)Package: ([^\n]+)\n")
    message(FATAL_ERROR "${deb}: no Package field")
  endif()
  set(package "${CMAKE_MATCH_2}")

  foreach(entry IN LISTS CPACK_AE_MULTIARCH)
    if(entry MATCHES "^${package}=(.+)$")
      string(REGEX REPLACE "(^|\n)(Architecture: [^\n]+\n)" "\\1\\2Multi-Arch: ${CMAKE_MATCH_1}\n"
        control "${control}")
      if(NOT control MATCHES "\nMulti-Arch: ")
        message(FATAL_ERROR "${deb}: no Architecture field to put Multi-Arch after")
      endif()
      file(WRITE "${root}/DEBIAN/control" "${control}")
    endif()
  endforeach()

  foreach(script postinst postrm)
    set(path "${root}/DEBIAN/${script}")
    if(EXISTS "${path}")
      file(READ "${path}" text)
      # CPack's script is `set -e` and one `ldconfig` under an if; anything else is not ours.
      string(REGEX REPLACE "#![^\n]*\n|set -e\n|if \\[ \"\\$1\" = \"[a-z]+\" \\]; then\n|[ \t]*ldconfig\n|fi\n" "" rest "${text}")
      string(STRIP "${rest}" rest)
      if(NOT rest STREQUAL "" OR NOT text MATCHES "ldconfig")
        message(FATAL_ERROR "${deb}: unexpected ${script}:\n${text}")
      endif()
      if(NOT EXISTS "${root}/DEBIAN/triggers")
        message(FATAL_ERROR "${deb}: calls ldconfig from ${script} but has no triggers file")
      endif()
      file(REMOVE "${path}")
    endif()
  endforeach()

  ae_run(${DPKG_DEB} --root-owner-group -Zxz --build "${root}" "${deb}")
  file(REMOVE_RECURSE "${root}")
endforeach()

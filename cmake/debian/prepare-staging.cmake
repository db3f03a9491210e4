# CPACK_PRE_BUILD_SCRIPTS: what debhelper would do to the staged files before CPack packs
# them (a plain `cmake --install` keeps the files as they are):
# - dh_strip: drop the .comment and .note sections CMake's plain strip leaves;
# - dh_compress: manual pages compressed with gzip -9n (no name or time stamp);
# - dh_installdocs: register the HTML reference with doc-base when the -dev package has it.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
find_program(GZIP gzip REQUIRED)

function(ae_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${command} failed: ${err}")
  endif()
endfunction()

file(GLOB_RECURSE staged LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/*")
foreach(file IN LISTS staged)
  if(IS_SYMLINK "${file}")
    continue()
  endif()
  file(READ "${file}" magic LIMIT 4 HEX)
  if(magic STREQUAL "7f454c46") # ELF
    ae_run(${CPACK_AE_STRIP} --remove-section=.comment --remove-section=.note "${file}")
  elseif(file MATCHES "/usr/share/man/" AND NOT file MATCHES "\\.gz$")
    ae_run(${GZIP} -9n "${file}")
  endif()
endforeach()

file(GLOB html_index "${CPACK_TEMPORARY_DIRECTORY}/*/usr/share/doc/libautoenc-dev/html/index.html")
if(html_index)
  string(REGEX REPLACE "/usr/share/doc/.*$" "" root "${html_index}")
  file(COPY "${CMAKE_CURRENT_LIST_DIR}/libautoenc-dev.doc-base"
    DESTINATION "${root}/usr/share/doc-base")
  file(RENAME "${root}/usr/share/doc-base/libautoenc-dev.doc-base"
    "${root}/usr/share/doc-base/libautoenc-dev.libautoenc-reference")
endif()

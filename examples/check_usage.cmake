# The examples' command lines (examples/CMakeLists.txt registers example_<name>_usage):
#   <program> --help            prints "usage: <name>" on stdout and exits 0
#   <program> --no-such-option  prints "usage: <name>" or "unknown option" on stderr and
#                               exits 2, before it reads any data or trains
#   <program> <EXTRA...>        (-DEXTRA=..., ;-separated) the same, for each extra line
#                               (or "cannot write" for an output file no folder can take)
# FASHION_MNIST_DIR points nowhere, so a program that ignores its arguments fails with the
# data's error (exit 1) at once instead of training.
cmake_minimum_required(VERSION 3.20)
foreach(var PROGRAM NAME WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_usage.cmake: -D${var}=... missing")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK})
set(env ${CMAKE_COMMAND} -E env FASHION_MNIST_DIR=${WORK}/no-data)

function(expect expected_rc stream pattern)
  execute_process(COMMAND ${env} ${PROGRAM} ${ARGN} WORKING_DIRECTORY ${WORK}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  string(REPLACE ";" " " line "${NAME} ${ARGN}")
  if(NOT rc STREQUAL "${expected_rc}")
    message(FATAL_ERROR "${line}: exit ${rc}, not ${expected_rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  if(NOT "${${stream}}" MATCHES "${pattern}")
    message(FATAL_ERROR "${line}: no '${pattern}' on ${stream}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "ok: ${line} (exit ${rc})")
endfunction()

expect(0 out "usage: ${NAME}" --help)
expect(2 err "usage: ${NAME}|unknown option" --no-such-option)
foreach(extra IN LISTS EXTRA)
  string(REPLACE " " ";" extra "${extra}")
  expect(2 err "usage: ${NAME}|unknown option|needs|cannot write" ${extra})
endforeach()
# Nothing was written where the program ran (a model file named after an option, say).
file(GLOB written LIST_DIRECTORIES false ${WORK}/*)
if(written)
  message(FATAL_ERROR "${NAME} wrote ${written}")
endif()

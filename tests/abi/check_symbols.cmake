# Compares the checked-in list of exported functions with what the library
# exports (MODE=library) or with what the public header declares (MODE=header).
# Run as: cmake -DMODE=library -DLIST=exported-symbols.txt -DLIBRARY=libautoenc.so -DNM=nm -P check_symbols.cmake
#         cmake -DMODE=header  -DLIST=exported-symbols.txt -DHEADER=autoenc.h -P check_symbols.cmake
cmake_minimum_required(VERSION 3.20)

file(STRINGS "${LIST}" expected REGEX "[^ \t]")
list(SORT expected)

if(MODE STREQUAL "library")
  execute_process(COMMAND "${NM}" -D --defined-only "${LIBRARY}"
    OUTPUT_VARIABLE nm_output ERROR_VARIABLE nm_error RESULT_VARIABLE nm_result)
  if(NOT nm_result EQUAL 0)
    message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed: ${nm_error}")
  endif()
  # Lines read "<address> <type> <name>[@version]". Every type counts, not only T:
  # an ifunc (i) or weak (W) symbol leaking out is an export too.
  string(REGEX MATCHALL "[^\n]+" nm_lines "${nm_output}")
  set(actual "")
  foreach(line IN LISTS nm_lines)
    if(line MATCHES "^[0-9a-fA-F]+ [A-Za-z] ([^ @]+)")
      list(APPEND actual "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(source "${LIBRARY} (nm -D --defined-only, all symbols)")
elseif(MODE STREQUAL "header")
  # Every declaration that starts with AE_API, preprocessor lines excluded.
  file(STRINGS "${HEADER}" header_lines)
  set(code "")
  foreach(line IN LISTS header_lines)
    if(NOT line MATCHES "^[ \t]*#")
      string(APPEND code " ${line}")
    endif()
  endforeach()
  string(REGEX MATCHALL "AE_API[^;(]*\\(" declarations "${code}")
  set(actual "")
  foreach(declaration IN LISTS declarations)
    if(declaration MATCHES "([A-Za-z_][A-Za-z_0-9]*)[ \t]*\\($")
      list(APPEND actual "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(source "${HEADER} (AE_API declarations)")
else()
  message(FATAL_ERROR "MODE must be 'library' or 'header'")
endif()
list(SORT actual)

if(NOT actual STREQUAL expected)
  set(missing ${expected})
  list(REMOVE_ITEM missing ${actual})
  set(extra ${actual})
  list(REMOVE_ITEM extra ${expected})
  list(JOIN missing "\n  " missing_text)
  list(JOIN extra "\n  " extra_text)
  message(FATAL_ERROR
    "exported symbols differ from ${LIST}\n"
    "in the list but not in ${source}:\n  ${missing_text}\n"
    "in ${source} but not in the list:\n  ${extra_text}\n"
    "If the change is intended (functions are only ever added), update the list.")
endif()
list(LENGTH actual count)
message(STATUS "${count} symbols in ${source} match ${LIST}")

# Builds one integration test of the autoenc crate with cargo and runs it under
# valgrind memcheck; fails on any memory error and on any leak of the test's own
# (definitely or indirectly lost blocks; the Rust test harness keeps a 48-byte
# thread-local that valgrind calls "possibly lost").
# Run as: cmake -DCARGO=cargo -DMANIFEST=Cargo.toml -DVALGRIND=valgrind -DTEST=failure_paths -P valgrind_test.cmake
cmake_minimum_required(VERSION 3.20)

execute_process(
  COMMAND ${CARGO} test --offline --locked --manifest-path ${MANIFEST} -p autoenc --test ${TEST}
          --no-run --message-format=json
  OUTPUT_VARIABLE messages RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cargo could not build the test ${TEST}")
endif()
# One JSON message per line; the test binary's is the artifact with an "executable".
string(REGEX MATCH "\"executable\":\"([^\"]*/${TEST}-[^\"/]*)\"" _ "${messages}")
set(executable "${CMAKE_MATCH_1}")
if(executable STREQUAL "")
  message(FATAL_ERROR "cargo named no executable for the test ${TEST}")
endif()

execute_process(
  COMMAND ${VALGRIND} --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
          ${executable} --test-threads=1
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "valgrind found errors in ${executable} (status ${result})")
endif()

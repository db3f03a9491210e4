# Writes the man page: cmake -DTOOL=path/to/autoenc -DOUTPUT=autoenc.1 -P man.cmake
execute_process(COMMAND ${TOOL} help --man
  OUTPUT_FILE ${OUTPUT}.tmp
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "autoenc help --man failed: ${result}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})

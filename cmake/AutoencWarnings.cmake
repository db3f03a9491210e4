# Warnings every target of the project is built with; the tree stays free of them.
set(AE_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wformat=2 -Wconversion -Wno-sign-conversion)
set(AE_TEST_WARNING_FLAGS -Wall -Wextra -Wpedantic)

function(ae_target_warnings target)
  target_compile_options(${target} PRIVATE ${AE_WARNING_FLAGS})
endfunction()

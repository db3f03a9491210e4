# AE_SANITIZE=address  -> AddressSanitizer + UndefinedBehaviorSanitizer
# AE_SANITIZE=thread   -> ThreadSanitizer
# Applied to every target so the library, tests and examples are instrumented alike.
set(AE_SANITIZE "" CACHE STRING "Sanitizer build: '', 'address' (ASan+UBSan) or 'thread' (TSan)")
set_property(CACHE AE_SANITIZE PROPERTY STRINGS "" address thread)

if(AE_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
elseif(AE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
elseif(NOT AE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "AE_SANITIZE must be '', 'address' or 'thread', not '${AE_SANITIZE}'")
endif()

# The instrumented code cannot run inside the ifunc resolvers that pick the AVX2/AVX-512
# clones at load time (they run before the sanitizer runtime starts), so sanitizer builds
# use the baseline loops only.
if(NOT AE_SANITIZE STREQUAL "")
  add_compile_definitions(AE_NO_MULTIVERSIONING)
endif()

# SPDX-License-Identifier: MIT
# VMAR_SANITIZE: a comma-separated sanitizer list for every target, e.g.
# "address,undefined" (the asan preset) or "thread" (the tsan preset).
# Any report aborts the test (no recovery), so a ctest run fails on it.
# The freestanding gate (cmake/freestanding.cmake) drops these flags again.
if(VMAR_SANITIZE)
  string(REPLACE "," ";" _vmar_sanitizers "${VMAR_SANITIZE}")
  foreach(_s IN LISTS _vmar_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "VMAR_SANITIZE: unknown sanitizer '${_s}' "
        "(use address, undefined, leak, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _vmar_sanitizers AND
     ("address" IN_LIST _vmar_sanitizers OR "leak" IN_LIST _vmar_sanitizers))
    message(FATAL_ERROR "VMAR_SANITIZE: thread cannot be combined with "
      "address or leak")
  endif()
  add_compile_options(-fsanitize=${VMAR_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  # GCC warns that TSan does not model stand-alone fences
  # (__atomic_thread_fence, which libatomic_ops' barrier forms may expand
  # to); the accesses TSan checks are all locked or atomic, so the warning
  # is not a finding here.
  if("thread" IN_LIST _vmar_sanitizers AND CMAKE_C_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(-fsanitize=${VMAR_SANITIZE})
endif()

# SPDX-License-Identifier: MIT
# Warnings for library code in src/ (aesthetics.md §2.8). Tests and the demo
# use vmar_test_warnings(), which drops the two conversion warnings.
set(VMAR_COMMON_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
  -Wmissing-prototypes -Wmissing-declarations -Wundef -Wvla -Wcast-align
  -Wformat=2 -Wnull-dereference -Wdouble-promotion)

function(vmar_strict_warnings target)
  target_compile_options(${target} PRIVATE ${VMAR_COMMON_WARNINGS}
    -Wconversion -Wsign-conversion)
  if(VMAR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(vmar_test_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wundef -Wvla)
  if(VMAR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

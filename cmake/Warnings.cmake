# Warnings and sanitizers for code this tree compiles (not for out-of-tree plugins).
function(iotgw_strict target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align)
  if(IOTGW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(IOTGW_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(IOTGW_SANITIZE)
  add_compile_options(-fsanitize=${IOTGW_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${IOTGW_SANITIZE})
  if(IOTGW_SANITIZE MATCHES "thread")
    # TSan does not model atomic_thread_fence, which Asio's fenced blocks use; Asio's scheduler
    # already orders handlers through its mutex, so drop the fences rather than the warning.
    add_compile_definitions(BOOST_ASIO_DISABLE_FENCED_BLOCK)
  endif()
endif()

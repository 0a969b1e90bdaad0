# Warnings and sanitizers for code this tree compiles (not for out-of-tree plugins).
function(iotgw_strict target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wnull-dereference)
  if(IOTGW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(IOTGW_SANITIZE)
  add_compile_options(-fsanitize=${IOTGW_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${IOTGW_SANITIZE})
endif()

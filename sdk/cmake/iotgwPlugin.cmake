# iotgw_add_plugin(NAME SOURCES src...): builds iotgw-NAME.so, a plugin the iotgw host loads.
# Used in this tree and, through find_package(iotgw), by plugins built outside it.
function(iotgw_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "iotgw_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE iotgw::sdk)
  target_compile_features(${name} PRIVATE cxx_std_20)
  # Only the entry point is exported: nothing else of a plugin can clash with the host or
  # another plugin.
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "iotgw-${name}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED IOTGW_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${IOTGW_PLUGIN_OUTPUT_DIR})
  endif()
  # A plugin resolves every symbol at link time, so a missing one fails the build, not the load.
  if(NOT APPLE AND NOT IOTGW_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()

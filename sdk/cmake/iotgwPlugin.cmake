# Where this file is, for the version script beside it (in the tree and installed).
set(_iotgw_plugin_cmake_dir ${CMAKE_CURRENT_LIST_DIR})

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
  # GCC gives some symbols STB_GNU_UNIQUE binding (statics of inline code: std::to_string's digit
  # table, say), and the dynamic loader never unloads a library that has one: a plugin replaced
  # and reloaded would keep its first copy mapped until exit. The version script keeps
  # everything but the entry point local, which clears them from the plugin's own code and from
  # what static libraries linked into it bring alike. (-fno-gnu-unique would reach the plugin's
  # own sources only, and clang, clang-tidy included, refuses the flag.)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE
      -Wl,--version-script=${_iotgw_plugin_cmake_dir}/iotgwPlugin.map)
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS
      ${_iotgw_plugin_cmake_dir}/iotgwPlugin.map)
  endif()
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

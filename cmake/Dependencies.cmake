# Debian 12 packages (packaging/install-deps.sh installs them).
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(OpenSSL 3 REQUIRED)
find_package(yaml-cpp REQUIRED)
# JSON (twin documents, the hub's HTTPS surface): one maintained library across the tree.
find_package(nlohmann_json 3.10 REQUIRED)

# Debian's libqpid-proton-cpp.pc requires a .pc that does not exist, so find Proton directly.
find_library(PROTON_CPP_LIBRARY NAMES qpid-proton-cpp)
# Not libqpid-proton.so: that is a second, all-in-one copy of Proton C. The C++ library uses
# libqpid-proton-core, which Debian ships without a dev symlink.
find_library(PROTON_C_LIBRARY NAMES qpid-proton-core libqpid-proton-core.so.10)
find_path(PROTON_INCLUDE_DIR NAMES proton/container.hpp)
if(NOT PROTON_CPP_LIBRARY OR NOT PROTON_C_LIBRARY OR NOT PROTON_INCLUDE_DIR)
  message(FATAL_ERROR "Qpid Proton C++ not found: run packaging/install-deps.sh")
endif()
if(PROTON_CPP_LIBRARY AND PROTON_INCLUDE_DIR)
  add_library(proton::cpp INTERFACE IMPORTED)
  target_include_directories(proton::cpp INTERFACE ${PROTON_INCLUDE_DIR})
  target_link_libraries(proton::cpp INTERFACE ${PROTON_CPP_LIBRARY} ${PROTON_C_LIBRARY})
  set(IOTGW_HAVE_PROTON ON)
endif()

# yaml-cpp 0.7's CMake package names its target yaml-cpp (0.8 adds yaml-cpp::yaml-cpp).
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp INTERFACE IMPORTED)
  target_link_libraries(yaml-cpp::yaml-cpp INTERFACE yaml-cpp)
endif()

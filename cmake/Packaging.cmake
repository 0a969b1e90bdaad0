# The Debian packages, made by CPack from the CMake install (packaging/build-debs runs it):
#   iotgw      the host, the shipped plugins, the systemd unit, /etc/iotgw
#   iotgw-hub  the local IoT-Hub-compatible endpoint
#   iotgw-dev  the plugin SDK: headers, CMake package, template
set(pkg ${PROJECT_SOURCE_DIR}/packaging/debian)
# /etc for a system install (GNUInstallDirs' /usr special case), <prefix>/etc for any other.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc ${CMAKE_INSTALL_FULL_SYSCONFDIR})
else()
  set(etc ${CMAKE_INSTALL_SYSCONFDIR})
endif()

# What the gateway package adds around the binaries: the unit, the topology it serves, the
# drop-in plugins folder, the README and the configuration reference.
install(FILES ${pkg}/iotgw.service DESTINATION lib/systemd/system COMPONENT gateway)
install(FILES ${pkg}/iotgw.yaml DESTINATION ${etc}/iotgw COMPONENT gateway)
install(DIRECTORY DESTINATION ${etc}/iotgw/plugins COMPONENT gateway)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT gateway)
install(FILES ${pkg}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/iotgw COMPONENT gateway)
install(FILES ${pkg}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/iotgw-hub COMPONENT hub)
install(FILES ${pkg}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/iotgw-dev COMPONENT dev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME iotgw)
set(CPACK_PACKAGE_VENDOR "iotgw")
set(CPACK_PACKAGE_CONTACT "iotgw maintainers <iotgw@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL gateway hub dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/iotgw/iotgw")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries' own libraries
set(CPACK_STRIP_FILES ON)  # debug symbols stay in the build; a package ships what runs
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

set(CPACK_DEBIAN_GATEWAY_PACKAGE_NAME iotgw)
set(CPACK_DEBIAN_GATEWAY_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_RECOMMENDS "iotgw-hub")
set(CPACK_DEBIAN_GATEWAY_DESCRIPTION
    "IoT protocol gateway to Azure IoT Hub and AMQP 1.0 hubs
iotgw terminates device connections (MQTT 3.1.1 and 5, over TCP, TLS and
WebSockets; CoAP over UDP and DTLS; a line protocol), runs each message
through a pipeline of plugin stages (authentication, compression,
encryption, mapping) and carries it over one shared AMQP 1.0 connection to
Azure IoT Hub or any AMQP 1.0 hub. Twin, direct methods and
cloud-to-device messages come back the same way.

This package holds the gateway, its shipped plugins and a hardened systemd
unit serving /etc/iotgw/iotgw.yaml.")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_CONTROL_EXTRA
    ${pkg}/gateway/conffiles ${pkg}/gateway/postinst ${pkg}/gateway/prerm ${pkg}/gateway/postrm)
set(CPACK_DEBIAN_GATEWAY_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_HUB_PACKAGE_NAME iotgw-hub)
set(CPACK_DEBIAN_HUB_DESCRIPTION
    "local Azure IoT Hub compatible AMQP 1.0 endpoint
iotgw-hub serves the device side of Azure IoT Hub over AMQP 1.0 (telemetry,
claims-based security with SAS tokens, cloud-to-device, twin, direct
methods) and its service REST API over HTTPS, from a device registry file,
so a gateway or a device SDK can be run and tested without a cloud account.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME iotgw-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "cmake (>= 3.22)")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "iotgw (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "SDK for iotgw plugins
Headers, a CMake package (find_package(iotgw), iotgw_add_plugin) and a
plugin template for building protocol adapters and pipeline stages that
iotgw loads from its plugins folder.")

include(CPack)

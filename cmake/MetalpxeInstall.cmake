# What `cmake --install` puts on a machine, so a package is these rules and
# not a copy script (debian/rules is dh with the cmake build system):
#   sbin/metalpxed, bin/metalpxectl
#   the systemd unit and sysusers.d entry (deploy/systemd/)
#   /etc/metalpxe/metalpxe.yaml: the packaged config (deploy/config/), proxy
#     DHCP and unknown machines in discover, with placeholder Talos configs
#   share/doc/metalpxe/: the docs/ folder and deploy/examples/
#   man pages made from --help by help2man (when it is installed)

install(TARGETS metalpxed RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS metalpxectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The tools that only tests and benchmarks use are not part of an install.
if(NOT BUILD_TESTING)
  foreach(tool metalpxe-dhcp-testserver metalpxe-http-serve metalpxe-tftpd tftp-swarm)
    if(TARGET ${tool})
      set_target_properties(${tool} PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
  endforeach()
endif()

# systemd's own directories and /etc for the /usr prefix (a package:
# Debian 12 has /lib/systemd/system, /usr/lib/sysusers.d); under any other
# prefix they stay inside it (lib/systemd/system, etc/metalpxe), so
# `cmake --install build --prefix DIR` never writes outside DIR.
pkg_get_variable(METALPXE_SYSTEMD_UNITDIR_DEFAULT systemd systemdsystemunitdir)
pkg_get_variable(METALPXE_SYSUSERSDIR_DEFAULT systemd sysusersdir)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND METALPXE_SYSTEMD_UNITDIR_DEFAULT AND METALPXE_SYSUSERSDIR_DEFAULT)
  set(METALPXE_ETCDIR_DEFAULT /etc/metalpxe)
else()
  set(METALPXE_SYSTEMD_UNITDIR_DEFAULT lib/systemd/system)
  set(METALPXE_SYSUSERSDIR_DEFAULT lib/sysusers.d)
  set(METALPXE_ETCDIR_DEFAULT ${CMAKE_INSTALL_SYSCONFDIR}/metalpxe)
endif()
set(METALPXE_SYSTEMD_UNITDIR "${METALPXE_SYSTEMD_UNITDIR_DEFAULT}" CACHE STRING "Where metalpxed.service goes")
set(METALPXE_SYSUSERSDIR "${METALPXE_SYSUSERSDIR_DEFAULT}" CACHE STRING "Where the sysusers.d entry goes")
set(METALPXE_ETCDIR "${METALPXE_ETCDIR_DEFAULT}" CACHE STRING "Where the packaged config goes")
# The unit names the installed daemon and config by absolute path.
cmake_path(ABSOLUTE_PATH METALPXE_ETCDIR BASE_DIRECTORY ${CMAKE_INSTALL_PREFIX} OUTPUT_VARIABLE METALPXE_ETCDIR_FULL)
configure_file(${PROJECT_SOURCE_DIR}/deploy/systemd/metalpxed.service.in
               ${PROJECT_BINARY_DIR}/deploy/metalpxed.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/deploy/metalpxed.service DESTINATION ${METALPXE_SYSTEMD_UNITDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/metalpxe.sysusers DESTINATION ${METALPXE_SYSUSERSDIR}
        RENAME metalpxe.conf)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/metalpxe.yaml ${PROJECT_SOURCE_DIR}/deploy/config/machines.yaml
        DESTINATION ${METALPXE_ETCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/config/talos DESTINATION ${METALPXE_ETCDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
if(EXISTS ${PROJECT_SOURCE_DIR}/docs)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

find_program(HELP2MAN help2man)
if(METALPXE_MANPAGES AND HELP2MAN)
  set(man_dir ${PROJECT_BINARY_DIR}/man)
  add_custom_command(
    OUTPUT ${man_dir}/metalpxed.8
    COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
    COMMAND ${HELP2MAN} --no-info --section 8 --name "network-boot provisioning appliance for Talos Linux"
            --output ${man_dir}/metalpxed.8 $<TARGET_FILE:metalpxed>
    DEPENDS metalpxed VERBATIM)
  add_custom_command(
    OUTPUT ${man_dir}/metalpxectl.1
    COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
    COMMAND ${HELP2MAN} --no-info --section 1 --name "command-line client of the metalpxed management API"
            --output ${man_dir}/metalpxectl.1 $<TARGET_FILE:metalpxectl>
    DEPENDS metalpxectl VERBATIM)
  add_custom_target(manpages ALL DEPENDS ${man_dir}/metalpxed.8 ${man_dir}/metalpxectl.1)
  install(FILES ${man_dir}/metalpxed.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
  install(FILES ${man_dir}/metalpxectl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

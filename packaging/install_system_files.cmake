# Installs the files whose place is outside the install prefix. It runs at
# install time, so the prefix given then (`cmake --install --prefix`, or /usr
# when CPack builds the .deb) decides the unit's place and its ExecStart.
# DESTDIR is honoured for every file.
#
#   the unit     LW_UNIT_DIR when set; otherwise /lib/systemd/system for
#                prefix /usr (Debian 12's place for packaged units) and
#                PREFIX/lib/systemd/system for any other prefix (systemd reads
#                /usr/local/lib/systemd/system too).
#   the config   LINEWATCH_CONFIG_DIR/linewatch.yaml, only when no file is there:
#                an administrator's configuration is never overwritten.
#
# Set by install(CODE) before this is included: LW_SOURCE_DIR, LINEWATCH_CONFIG_DIR,
# LW_UNIT_DIR (may be empty), and CMAKE_INSTALL_BINDIR / CMAKE_INSTALL_DOCDIR.

function(lw_under_prefix dir out)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

lw_under_prefix("${CMAKE_INSTALL_BINDIR}" LINEWATCH_BINDIR)
lw_under_prefix("${CMAKE_INSTALL_DOCDIR}" LINEWATCH_DOCDIR)

set(unit_dir "${LW_UNIT_DIR}")
if(unit_dir STREQUAL "")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(unit_dir "/lib/systemd/system")
  else()
    set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  endif()
endif()

set(unit "$ENV{DESTDIR}${unit_dir}/linewatch.service")
message(STATUS "Installing: ${unit}")
configure_file("${LW_SOURCE_DIR}/linewatch.service.in" "${unit}" @ONLY
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${unit_dir}/linewatch.service")  # as file(INSTALL): no DESTDIR

set(config "$ENV{DESTDIR}${LINEWATCH_CONFIG_DIR}/linewatch.yaml")
if(EXISTS "${config}")
  message(STATUS "Keeping: ${config} (the shipped default is in ${LINEWATCH_DOCDIR})")
else()
  # file(INSTALL) adds DESTDIR itself and records the file in the manifest.
  file(INSTALL DESTINATION "${LINEWATCH_CONFIG_DIR}" TYPE FILE
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
    FILES "${LW_SOURCE_DIR}/linewatch.yaml")
endif()

# Install-time half of ae_install_pkgconfig() (cmake/AutoencPkgConfig.cmake), included by
# the install script with CMAKE_INSTALL_PREFIX as `cmake --install` or cpack sets it (DESTDIR
# apart) and _ae_pc_stage, _ae_pc_name, _ae_pc_dir, _ae_pc_up, _ae_pc_libdir,
# _ae_pc_includedir from configure time.
set(_ae_pc_install_prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "(.)/+$" "\\1" _ae_pc_install_prefix "${_ae_pc_install_prefix}")
if(_ae_pc_install_prefix STREQUAL "/usr")
  set(_ae_pc_prefix "/usr")
elseif(_ae_pc_up STREQUAL "") # an absolute CMAKE_INSTALL_LIBDIR: nothing to be relative to
  set(_ae_pc_prefix "${_ae_pc_install_prefix}")
else()
  set(_ae_pc_prefix "\${pcfiledir}/${_ae_pc_up}")
endif()
foreach(_ae_pc_var IN ITEMS libdir includedir)
  if(IS_ABSOLUTE "${_ae_pc_${_ae_pc_var}}")
    set(_ae_pc_${_ae_pc_var}_value "${_ae_pc_${_ae_pc_var}}")
  else()
    set(_ae_pc_${_ae_pc_var}_value "\${prefix}/${_ae_pc_${_ae_pc_var}}")
  endif()
endforeach()
file(READ "${_ae_pc_stage}" _ae_pc_text)
string(REPLACE "@AE_PC_PREFIX@" "${_ae_pc_prefix}" _ae_pc_text "${_ae_pc_text}")
string(REPLACE "@AE_PC_LIBDIR@" "${_ae_pc_libdir_value}" _ae_pc_text "${_ae_pc_text}")
string(REPLACE "@AE_PC_INCLUDEDIR@" "${_ae_pc_includedir_value}" _ae_pc_text "${_ae_pc_text}")
# One file per destination, so that installs into two prefixes at once (ctest -j) do not
# write each other's.
string(MD5 _ae_pc_key "$ENV{DESTDIR}|${_ae_pc_install_prefix}")
get_filename_component(_ae_pc_out "${_ae_pc_stage}" DIRECTORY)
set(_ae_pc_out "${_ae_pc_out}/${_ae_pc_key}/${_ae_pc_name}")
file(WRITE "${_ae_pc_out}" "${_ae_pc_text}")
if(IS_ABSOLUTE "${_ae_pc_dir}")
  set(_ae_pc_destination "${_ae_pc_dir}")
else()
  set(_ae_pc_destination "${CMAKE_INSTALL_PREFIX}/${_ae_pc_dir}")
endif()
# file(INSTALL) adds DESTDIR and records the file in install_manifest.txt, as install(FILES).
file(INSTALL DESTINATION "${_ae_pc_destination}" TYPE FILE FILES "${_ae_pc_out}")

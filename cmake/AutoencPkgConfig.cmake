# ae_install_pkgconfig(<template> <component>): install <template> (name.pc.in) as
# <libdir>/pkgconfig/name.pc, with its three folders written when it is installed, since
# `cmake --install --prefix P` (or cpack) may choose another prefix than the configured one:
#   prefix=@AE_PC_PREFIX@         ${pcfiledir}/<up to the prefix>, so that the installed
#                                 prefix can move; but /usr itself when the prefix is /usr
#   libdir=@AE_PC_LIBDIR@         ${prefix}/<CMAKE_INSTALL_LIBDIR>, or that folder if absolute
#   includedir=@AE_PC_INCLUDEDIR@ ${prefix}/<CMAKE_INSTALL_INCLUDEDIR>, or that folder if absolute
# Why /usr is written as it is: pkg-config drops -I/usr/include and -L/usr/lib/<triplet>
# from its answers only when they are spelt so. A prefix of ${pcfiledir}/../../.. would
# give every consumer of the Debian package
# -I/usr/lib/x86_64-linux-gnu/pkgconfig/../../../include and a -L of the system's library
# folder ahead of the consumer's own -L folders. Files in /usr belong to the package
# manager and are not moved. Every other @VAR@ of the template is filled at configure time.
function(ae_install_pkgconfig template component)
  get_filename_component(name "${template}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  set(pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  # Keep the three folder placeholders for install time.
  foreach(dir IN ITEMS PREFIX LIBDIR INCLUDEDIR)
    set(AE_PC_${dir} "@AE_PC_${dir}@")
  endforeach()
  set(stage ${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/${name}.in)
  configure_file(${template} ${stage} @ONLY)
  set(up "")
  if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    file(RELATIVE_PATH up /prefix/${pcdir} /prefix)
    string(REGEX REPLACE "/$" "" up "${up}")
  endif()
  install(CODE "set(_ae_pc_stage [==[${stage}]==])
set(_ae_pc_name [==[${name}]==])
set(_ae_pc_dir [==[${pcdir}]==])
set(_ae_pc_up [==[${up}]==])
set(_ae_pc_libdir [==[${CMAKE_INSTALL_LIBDIR}]==])
set(_ae_pc_includedir [==[${CMAKE_INSTALL_INCLUDEDIR}]==])
include([==[${PROJECT_SOURCE_DIR}/cmake/AutoencPkgConfigInstall.cmake]==])"
    COMPONENT ${component})
endfunction()

# One step of the consumer tests (tests/consumer/CMakeLists.txt registers them):
#   MODE=install    install the build tree into <WORK>/prefix and check what was installed
#   MODE=cmake      build and run project/ with find_package(autoenc 0.2) against it
#   MODE=cxx        the same with the C++17 consumer
#   MODE=pkgconfig  build project/consumer.c with a plain compiler line from pkg-config
#   MODE=moved      install into <WORK>/moved/before, mv it to .../after, then both
#                   consumers against the moved prefix
#   MODE=staged     DESTDIR installs: for the prefix /usr (as cpack makes the Debian
#                   packages), autoenc.pc must say prefix=/usr so that pkg-config leaves out
#                   the system's folders; for any other prefix it stays relocatable
#   MODE=cleanup    remove <WORK>
# Every consumer is copied out of the source tree, configured with a cleaned environment,
# and its binary must find libautoenc in the prefix and nowhere else.
cmake_minimum_required(VERSION 3.20)

foreach(var MODE WORK SOURCE_DIR BUILD_DIR LIBDIR INCLUDEDIR DOCDIR VERSION SOVERSION C_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... missing")
  endif()
endforeach()
set(project_dir ${CMAKE_CURRENT_LIST_DIR}/project)
find_program(READELF readelf REQUIRED)
find_program(LDD ldd REQUIRED)
find_program(PKG_CONFIG pkg-config REQUIRED)

# Nothing the consumer sees may come from the developer's environment.
set(clean_env ${CMAKE_COMMAND} -E env --unset=CMAKE_PREFIX_PATH --unset=autoenc_DIR
    --unset=autoenc_ROOT --unset=PKG_CONFIG_PATH --unset=LD_LIBRARY_PATH
    --unset=CMAKE_INCLUDE_PATH --unset=CMAKE_LIBRARY_PATH --unset=CPATH --unset=LIBRARY_PATH)

function(run output_var)
  execute_process(COMMAND ${clean_env} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE ";" " " command "${ARGN}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${command}\n${out}${err}")
  endif()
  message(STATUS "ok: ${command}")
  set(${output_var} "${out}" PARENT_SCOPE)
endfunction()

# A path that leads back into the source or build tree is a failure wherever it shows up.
function(check_no_tree_paths what text)
  foreach(tree IN ITEMS "${SOURCE_DIR}" "${BUILD_DIR}")
    string(FIND "${text}" "${tree}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${what} names ${tree}")
    endif()
  endforeach()
endfunction()

function(same_file a b result_var)
  file(REAL_PATH "${a}" real_a)
  file(REAL_PATH "${b}" real_b)
  if(real_a STREQUAL real_b)
    set(${result_var} TRUE PARENT_SCOPE)
  else()
    set(${result_var} FALSE PARENT_SCOPE)
  endif()
endfunction()

function(install_into prefix)
  file(REMOVE_RECURSE "${prefix}")
  set(config_args "")
  if(CONFIG)
    set(config_args --config ${CONFIG})
  endif()
  run(out ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})
endfunction()

# What an install must hold, and that none of its text names an absolute folder.
function(check_prefix prefix)
  set(lib ${prefix}/${LIBDIR})
  foreach(file IN ITEMS ${lib}/libautoenc.so.${VERSION} ${lib}/libautoenc.so.${SOVERSION}
      ${lib}/libautoenc.so ${prefix}/${INCLUDEDIR}/autoenc.h ${lib}/pkgconfig/autoenc.pc
      ${lib}/cmake/autoenc/autoencConfig.cmake ${lib}/cmake/autoenc/autoencConfigVersion.cmake
      ${lib}/cmake/autoenc/autoencTargets.cmake ${prefix}/${DOCDIR}/api-guide.md)
    if(NOT EXISTS ${file})
      message(FATAL_ERROR "not installed: ${file}")
    endif()
  endforeach()
  if(NOT IS_SYMLINK ${lib}/libautoenc.so.${SOVERSION} OR NOT IS_SYMLINK ${lib}/libautoenc.so)
    message(FATAL_ERROR "libautoenc.so and libautoenc.so.${SOVERSION} must be links")
  endif()

  run(dynamic ${READELF} -d ${lib}/libautoenc.so.${VERSION})
  if(NOT dynamic MATCHES "Library soname: \\[libautoenc\\.so\\.${SOVERSION}\\]")
    message(FATAL_ERROR "SONAME is not libautoenc.so.${SOVERSION}:\n${dynamic}")
  endif()
  if(dynamic MATCHES "R(UN)?PATH")
    message(FATAL_ERROR "the installed library keeps a search path:\n${dynamic}")
  endif()

  # A shared library keeps OpenBLAS, libm and threads to itself: the exported target
  # must not pass on a link dependency (least of all a build-tree imported target).
  file(READ ${lib}/cmake/autoenc/autoencTargets.cmake targets)
  if(targets MATCHES "INTERFACE_LINK_LIBRARIES")
    message(FATAL_ERROR "autoenc::autoenc exports link dependencies:\n${targets}")
  endif()

  file(GLOB_RECURSE text_files ${lib}/pkgconfig/*.pc ${lib}/cmake/autoenc/*.cmake)
  foreach(file IN LISTS text_files)
    file(READ ${file} text)
    check_no_tree_paths(${file} "${text}")
    foreach(absolute IN ITEMS "${prefix}" "${WORK}")
      string(FIND "${text}" "${absolute}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "${file} names the absolute folder ${absolute}: the prefix could not move")
      endif()
    endforeach()
  endforeach()
endfunction()

# The consumer binary finds libautoenc.so through its RUNPATH, in the prefix, and nothing
# in it leads back to the trees it was not built from.
function(check_binary binary prefix)
  run(dynamic ${READELF} -d ${binary})
  check_no_tree_paths("RUNPATH of ${binary}" "${dynamic}")
  if(NOT dynamic MATCHES "R(UN)?PATH\\)[^\n]*\\[([^]\n]*)\\]")
    message(FATAL_ERROR "${binary} has no RUNPATH:\n${dynamic}")
  endif()
  run(ldd_output ${LDD} ${binary})
  # The path may hold spaces (the work folder does): up to ldd's " (0x...)".
  if(NOT ldd_output MATCHES "libautoenc\\.so\\.${SOVERSION} => ([^\n]+) \\(0x")
    message(FATAL_ERROR "ldd does not resolve libautoenc.so.${SOVERSION}:\n${ldd_output}")
  endif()
  same_file("${CMAKE_MATCH_1}" "${prefix}/${LIBDIR}/libautoenc.so.${SOVERSION}" same)
  if(NOT same)
    message(FATAL_ERROR "${binary} loads ${CMAKE_MATCH_1}, not the one in ${prefix}")
  endif()
  file(STRINGS ${binary} strings)
  check_no_tree_paths(${binary} "${strings}")
endfunction()

function(run_binary binary)
  run(out ${binary})
  message(STATUS "${out}")
  if(NOT out MATCHES "(^|\n)autoenc ${VERSION}\n")
    message(FATAL_ERROR "${binary} did not report version ${VERSION}:\n${out}")
  endif()
endfunction()

function(consumer_cmake prefix tag cxx)
  set(src ${WORK}/${tag}/src)
  set(bld ${WORK}/${tag}/build)
  file(REMOVE_RECURSE ${WORK}/${tag})
  file(COPY ${project_dir}/ DESTINATION ${src})
  set(args -S ${src} -B ${bld} -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=${C_COMPILER}
      # Only the prefix: no package registry, no system or PATH-derived prefixes.
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF
      -DCMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH=OFF)
  if(GENERATOR)
    # The system paths are off, so the build program is named as the main build found it.
    list(APPEND args -G ${GENERATOR} -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
  endif()
  if(cxx)
    if(NOT CXX_COMPILER)
      message(FATAL_ERROR "no C++ compiler found: install g++ (cmake/install-deps.sh)")
    endif()
    list(APPEND args -DCONSUMER_CXX=ON -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
  endif()
  run(out ${CMAKE_COMMAND} ${args})
  file(STRINGS ${bld}/CMakeCache.txt found REGEX "^autoenc_DIR:")
  string(REGEX REPLACE "^autoenc_DIR:[A-Z]+=" "" found "${found}")
  same_file("${found}" "${prefix}/${LIBDIR}/cmake/autoenc" same)
  if(NOT same)
    message(FATAL_ERROR "find_package(autoenc) used ${found}, not ${prefix}/${LIBDIR}/cmake/autoenc")
  endif()
  run(out ${CMAKE_COMMAND} --build ${bld})
  check_binary(${bld}/consumer ${prefix})
  run_binary(${bld}/consumer)
endfunction()

function(consumer_pkgconfig prefix tag)
  set(src ${WORK}/${tag}/src)
  set(bld ${WORK}/${tag}/build)
  file(REMOVE_RECURSE ${WORK}/${tag})
  file(MAKE_DIRECTORY ${bld})
  file(COPY ${project_dir}/consumer.c DESTINATION ${src})
  # Only the prefix's own .pc files are visible (PKG_CONFIG_LIBDIR replaces the system's
  # folders): autoenc.pc must need no other package's, openblas.pc least of all, since the
  # shared library links OpenBLAS itself and autoenc.h includes nothing of it.
  file(MAKE_DIRECTORY ${WORK}/${tag}/no-system-pc)
  set(pc ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/${LIBDIR}/pkgconfig
      PKG_CONFIG_LIBDIR=${WORK}/${tag}/no-system-pc ${PKG_CONFIG})
  run(flags ${pc} --cflags --libs autoenc)
  run(libdir ${pc} --variable=libdir autoenc)
  string(STRIP "${flags}" flags)
  run(static_flags ${pc} --cflags --libs --static autoenc)
  if("${flags} ${static_flags}" MATCHES "openblas")
    message(FATAL_ERROR "pkg-config hands a consumer of autoenc OpenBLAS's flags: ${flags} / ${static_flags}")
  endif()
  string(STRIP "${libdir}" libdir)
  string(REPLACE "\\ " " " libdir "${libdir}") # pkg-config escapes a space as "\ "
  same_file("${libdir}" "${prefix}/${LIBDIR}" same)
  if(NOT same)
    message(FATAL_ERROR "pkg-config gives libdir ${libdir}, not in ${prefix}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(out ${C_COMPILER} -std=c11 -Wall -Wextra -Wpedantic -Werror ${src}/consumer.c ${flags} -lm
      -Wl,-rpath,${libdir} -o ${bld}/consumer)
  check_binary(${bld}/consumer ${prefix})
  run_binary(${bld}/consumer)
endfunction()

set(prefix ${WORK}/prefix)
if(MODE STREQUAL "install")
  install_into(${prefix})
  check_prefix(${prefix})
elseif(MODE STREQUAL "cmake")
  consumer_cmake(${prefix} cmake FALSE)
elseif(MODE STREQUAL "cxx")
  consumer_cmake(${prefix} cxx TRUE)
elseif(MODE STREQUAL "pkgconfig")
  consumer_pkgconfig(${prefix} pkgconfig)
elseif(MODE STREQUAL "moved")
  set(before ${WORK}/moved/before)
  set(after ${WORK}/moved/after)
  file(REMOVE_RECURSE ${WORK}/moved)
  install_into(${before})
  file(MAKE_DIRECTORY ${WORK}/moved)
  file(RENAME ${before} ${after}) # mv: nothing is installed again
  check_prefix(${after})
  consumer_cmake(${after} moved/cmake FALSE)
  consumer_pkgconfig(${after} moved/pkgconfig)
elseif(MODE STREQUAL "staged")
  # Only pkg-config's answers are checked: nothing here is installed where it is looked for.
  file(REMOVE_RECURSE ${WORK}/staged)
  foreach(case IN ITEMS usr opt)
    set(stage ${WORK}/staged/${case})
    if(case STREQUAL "usr")
      set(target_prefix /usr)
    else()
      set(target_prefix /opt/autoenc)
    endif()
    run(out ${CMAKE_COMMAND} -E env DESTDIR=${stage}
        ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${target_prefix} --component development)
    set(pcdir ${stage}${target_prefix}/${LIBDIR}/pkgconfig)
    if(NOT EXISTS ${pcdir}/autoenc.pc)
      message(FATAL_ERROR "DESTDIR=${stage} --prefix ${target_prefix}: no ${pcdir}/autoenc.pc")
    endif()
    # The system folders spelt as pkg-config's defaults on Debian, whatever this machine says.
    set(pc ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir}
        PKG_CONFIG_SYSTEM_INCLUDE_PATH=/usr/include
        PKG_CONFIG_SYSTEM_LIBRARY_PATH=/usr/${LIBDIR} ${PKG_CONFIG})
    run(prefix_value ${pc} --variable=prefix autoenc)
    run(libs ${pc} --libs autoenc)
    run(cflags ${pc} --cflags autoenc)
    string(STRIP "${prefix_value}" prefix_value)
    string(REPLACE "\\ " " " prefix_value "${prefix_value}") # pkg-config escapes a space as "\ "
    string(STRIP "${libs}" libs)
    message(STATUS "${target_prefix}: prefix=${prefix_value}; --libs ${libs}; --cflags ${cflags}")
    if(case STREQUAL "usr")
      if(NOT prefix_value STREQUAL "/usr")
        message(FATAL_ERROR "installed for /usr, autoenc.pc says prefix=${prefix_value}, not /usr")
      endif()
      if(NOT libs STREQUAL "-lautoenc")
        message(FATAL_ERROR "installed in /usr, pkg-config --libs autoenc gives '${libs}', not -lautoenc")
      endif()
      if(cflags MATCHES "pkgconfig/\\.\\." OR cflags MATCHES "(^| )-I/usr/include/?( |$)")
        message(FATAL_ERROR "installed in /usr, pkg-config --cflags autoenc names /usr/include: ${cflags}")
      endif()
    else()
      run(libdir ${pc} --variable=libdir autoenc)
      string(STRIP "${libdir}" libdir)
      string(REPLACE "\\ " " " libdir "${libdir}")
      same_file("${libdir}" "${stage}${target_prefix}/${LIBDIR}" same)
      if(NOT prefix_value MATCHES "^\\$\\{pcfiledir\\}|pkgconfig/" OR NOT same)
        message(FATAL_ERROR "DESTDIR install for ${target_prefix}: autoenc.pc is not relative to "
          "its folder (prefix=${prefix_value}, libdir=${libdir})")
      endif()
    endif()
  endforeach()
elseif(MODE STREQUAL "cleanup")
  file(REMOVE_RECURSE ${WORK})
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()

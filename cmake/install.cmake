# `cmake --install`: the headers (include/xfer), every module's static library, the `xfer` program
# and a CMake package, so that another project does find_package(xfer) and links xfer::xfer
# (examples/classify; tests/install builds it against an installed prefix). The package finds the
# libraries the modules link again (xferConfig.cmake.in): a static library carries its
# dependencies to whoever links it. GNUInstallDirs is included by the top CMakeLists.txt (src/core
# names the include directory with it).
include(CMakePackageConfigHelpers)

set(xfer_install_targets xfer xfer_torch)
foreach(module ${xfer_modules})
  if(TARGET xfer_${module})
    list(APPEND xfer_install_targets xfer_${module})
  endif()
endforeach()
install(TARGETS ${xfer_install_targets} EXPORT xferTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/xfer DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(xfer_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/xfer)
install(EXPORT xferTargets NAMESPACE xfer:: DESTINATION ${xfer_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xferConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/xferConfig.cmake
                              INSTALL_DESTINATION ${xfer_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xferConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/xferConfig.cmake ${PROJECT_BINARY_DIR}/xferConfigVersion.cmake
        DESTINATION ${xfer_cmake_dir})

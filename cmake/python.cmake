# `import pyramidion`: the pybind11 extension _pyramidion (src/python/) and the package python/pyramidion/, built
# into BUILD_DIR/python/pyramidion/ (PYTHONPATH=BUILD_DIR/python imports it before any install) and installed into
# the interpreter's site/dist-packages (component "python"). Needs pybind11 and a Python 3 whose torch package is
# the LibTorch linked here (Debian: python3-torch with libtorch-dev; or the pip PyTorch the build found).
# Sets PYRAMIDION_PYTHON_FOUND and Python3_EXECUTABLE for the tests.

set(PYRAMIDION_PYTHON_FOUND OFF)

# The interpreter: the first of $PATH's python3 and /usr/bin/python3 (Debian's, when a pyenv or venv shadows it)
# whose torch has LibTorch's major.minor version.
string(REGEX MATCH "^[0-9]+\\.[0-9]+" _torch_minor "${Torch_VERSION}")
if(NOT Python3_EXECUTABLE)
  find_program(_python_on_path NAMES python3 NO_CACHE)
  foreach(_candidate ${_python_on_path} /usr/bin/python3)
    if(EXISTS "${_candidate}")
      execute_process(COMMAND "${_candidate}" -c "import torch, sys; sys.stdout.write(torch.__version__)"
                      OUTPUT_VARIABLE _candidate_torch RESULT_VARIABLE _candidate_rc ERROR_QUIET)
      if(_candidate_rc EQUAL 0 AND _candidate_torch MATCHES "^${_torch_minor}")
        set(Python3_EXECUTABLE "${_candidate}" CACHE FILEPATH "Python 3 interpreter for the pyramidion module")
        break()
      endif()
    endif()
  endforeach()
endif()
if(NOT Python3_EXECUTABLE)
  message(STATUS "Python module: off (no python3 with torch ${_torch_minor}: "
                 "install python3-torch, or set Python3_EXECUTABLE)")
  return()
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module QUIET)
if(NOT Python3_Development.Module_FOUND)
  message(STATUS "Python module: off (no Python 3 headers for ${Python3_EXECUTABLE}: install python3-dev)")
  return()
endif()

find_package(pybind11 CONFIG QUIET)
if(NOT pybind11_FOUND)  # a pip pybind11 (the GPU machines' pip PyTorch brings its headers, not its CMake files)
  execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import pybind11; print(pybind11.get_cmake_dir())"
                  OUTPUT_VARIABLE _pybind11_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_pybind11_dir)
    find_package(pybind11 CONFIG QUIET PATHS "${_pybind11_dir}" NO_DEFAULT_PATH)
  endif()
endif()
if(NOT pybind11_FOUND)  # else the headers a pip PyTorch ships in its include folder
  find_path(_torch_pybind11_include pybind11/pybind11.h HINTS ${TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH NO_CACHE)
  if(NOT _torch_pybind11_include)
    message(STATUS "Python module: off (pybind11 not found: install pybind11-dev)")
    return()
  endif()
endif()

# libtorch_python (the tensor <-> torch.Tensor conversion) beside the torch package's own libraries.
execute_process(COMMAND "${Python3_EXECUTABLE}" -c
                "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"
                OUTPUT_VARIABLE _torch_python_lib_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
find_library(TORCH_PYTHON_LIBRARY torch_python HINTS "${TORCH_INSTALL_PREFIX}/lib" "${_torch_python_lib_dir}")
if(NOT TORCH_PYTHON_LIBRARY)
  message(STATUS "Python module: off (libtorch_python not found next to ${Python3_EXECUTABLE}'s torch)")
  return()
endif()

set(_package_dir ${PROJECT_BINARY_DIR}/python/pyramidion)
if(pybind11_FOUND)
  pybind11_add_module(_pyramidion MODULE NO_EXTRAS ${PROJECT_SOURCE_DIR}/src/python/module.cpp)
else()
  Python3_add_library(_pyramidion MODULE WITH_SOABI ${PROJECT_SOURCE_DIR}/src/python/module.cpp)
  set_target_properties(_pyramidion PROPERTIES CXX_VISIBILITY_PRESET hidden)
  set(pybind11_VERSION "(${_torch_pybind11_include})")
endif()
target_link_libraries(_pyramidion PRIVATE pyramidion ${TORCH_PYTHON_LIBRARY} nlohmann_json::nlohmann_json)
target_compile_definitions(_pyramidion PRIVATE TORCH_EXTENSION_NAME=_pyramidion)
set_target_properties(_pyramidion PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${_package_dir})

# The package's Python files next to the extension (copied again when they change).
file(GLOB _python_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/pyramidion/*.py)
set(_copied)
foreach(_file ${_python_files})
  get_filename_component(_name ${_file} NAME)
  add_custom_command(OUTPUT ${_package_dir}/${_name}
                     COMMAND ${CMAKE_COMMAND} -E copy_if_different ${_file} ${_package_dir}/${_name}
                     DEPENDS ${_file} VERBATIM)
  list(APPEND _copied ${_package_dir}/${_name})
endforeach()
add_custom_target(pyramidion_python_files ALL DEPENDS ${_copied})
# The torch the module was built against: `import pyramidion` refuses another (its symbols would not match).
file(CONFIGURE OUTPUT ${_package_dir}/_build_info.py CONTENT
     "# Written by CMake (cmake/python.cmake).\nTORCH_VERSION = \"${Torch_VERSION}\"\nVERSION = \"${PROJECT_VERSION}\"\n")
add_dependencies(_pyramidion pyramidion_python_files)

# Install destination: the interpreter's platlib, relative to the install prefix when it lies under it (Debian's
# /usr/local/lib/python3.11/dist-packages with the default prefix /usr/local), so `--prefix DIR` stays under DIR.
execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import sysconfig; print(sysconfig.get_path('platlib'))"
                OUTPUT_VARIABLE _platlib OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
string(LENGTH "${CMAKE_INSTALL_PREFIX}/" _prefix_length)
string(FIND "${_platlib}" "${CMAKE_INSTALL_PREFIX}/" _under_prefix)
if(_under_prefix EQUAL 0)
  string(SUBSTRING "${_platlib}" ${_prefix_length} -1 _platlib)
endif()
set(PYRAMIDION_PYTHON_INSTALL_DIR "${_platlib}" CACHE STRING
    "Where `cmake --install` puts the pyramidion Python package (relative: under the install prefix)")
# Installed, the module finds libpyramidion relative to itself when both lie under the prefix (any --prefix).
get_filename_component(_torch_python_dir "${TORCH_PYTHON_LIBRARY}" DIRECTORY)
if(IS_ABSOLUTE "${PYRAMIDION_PYTHON_INSTALL_DIR}")
  set(_library_rpath "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH _library_rpath "/prefix/${PYRAMIDION_PYTHON_INSTALL_DIR}/pyramidion" "/prefix/${CMAKE_INSTALL_LIBDIR}")
  set(_library_rpath "$ORIGIN/${_library_rpath}")
endif()
set_target_properties(_pyramidion PROPERTIES INSTALL_RPATH "${_library_rpath};${_torch_python_dir}")
install(TARGETS _pyramidion LIBRARY DESTINATION ${PYRAMIDION_PYTHON_INSTALL_DIR}/pyramidion COMPONENT python)
install(FILES ${_python_files} ${_package_dir}/_build_info.py DESTINATION ${PYRAMIDION_PYTHON_INSTALL_DIR}/pyramidion COMPONENT python)

set(PYRAMIDION_PYTHON_FOUND ON)
# For scripts/python-path.sh (Python3_EXECUTABLE is not always a cache entry).
set(PYRAMIDION_PYTHON_EXECUTABLE "${Python3_EXECUTABLE}" CACHE INTERNAL "the interpreter the Python module is built for")
message(STATUS "Python module: ${Python3_EXECUTABLE}, pybind11 ${pybind11_VERSION}, ${TORCH_PYTHON_LIBRARY}; "
               "installs into ${PYRAMIDION_PYTHON_INSTALL_DIR}")

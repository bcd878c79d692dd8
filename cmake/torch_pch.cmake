# The precompiled <torch/torch.h>, used only by the sources that reach LibTorch through their includes: a file
# that does not (the tokenizer, the readers, the ROUGE scorer, the server's HTTP parts) compiles without it, so it
# keeps its own includes honest and does not pay for loading a 300 MB header image.
include(${CMAKE_CURRENT_LIST_DIR}/include_scan.cmake)

# Marks the sources of `target` that never reach LibTorch as SKIP_PRECOMPILE_HEADERS.
function(_pyramidion_skip_pch_without_torch target)
  get_target_property(_sources ${target} SOURCES)
  get_target_property(_source_dir ${target} SOURCE_DIR)
  foreach(_source IN LISTS _sources)
    if(NOT _source MATCHES "\\.(cpp|cc|cxx)$")
      continue()
    endif()
    get_filename_component(_path "${_source}" ABSOLUTE BASE_DIR "${_source_dir}")
    pyramidion_include_reaches("${_path}" "^(torch|ATen|c10|c10d|caffe2)/" _torch ${PROJECT_SOURCE_DIR}/include
                               ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests/support)
    if(NOT _torch)
      set_source_files_properties("${_path}" TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()

#pragma once
// The output directory of `data prepare`: what may be replaced, how it is swapped in, and what an interrupted run
// left behind. Only a directory that an earlier `data prepare` wrote (it holds kDatasetMarker, or is empty) is ever
// replaced, and only the files `data prepare` writes are ever removed from it.
#include <filesystem>
#include <string>
#include <vector>

namespace pyramidion::data {

inline constexpr const char* kDatasetMarker = ".pyramidion-dataset";
// The file a dataset keeps its tokenizer in, one name per kind (data::Tokenizer::kind()): meta.json's "tokenizer".
inline constexpr const char* kDatasetTokenizerFiles[][2] = {{"sentencepiece", "spm.model"},
                                                            {"byte_level_bpe", "byte_level_bpe.json"},
                                                            {"pegasus_sentencepiece", "pegasus_spiece.model"}};

// Throws std::runtime_error (one line naming `dir`) unless `dir` is absent, an empty directory, or a directory that
// `data prepare` wrote and that holds only the files it writes; also when it is the current directory, or when one
// of `inputs` lies inside it.
void check_dataset_output(const std::filesystem::path& dir, const std::vector<std::string>& inputs);

// Puts back or removes what an interrupted `data prepare` into `dir` left beside it (DIR.tmp.PID staging and
// DIR.old.PID previous output whose process no longer runs): a previous output with no dataset at `dir` is renamed
// back, the rest is removed when it holds the marker. Returns how many were handled.
int recover_interrupted_prepare(const std::filesystem::path& dir);

// Creates DIR.tmp.PID with the marker in it; returns its path.
std::filesystem::path create_staging_directory(const std::filesystem::path& dir);

// Makes `staging` the dataset at `dir`: an atomic exchange (renameat2 RENAME_EXCHANGE) where the file system has it,
// else two renames through DIR.old.PID; the previous dataset's files are then removed.
void swap_in_dataset(const std::filesystem::path& staging, const std::filesystem::path& dir);

}  // namespace pyramidion::data

#pragma once
// A small SentencePiece model with PEGASUS's own special pieces (<pad> 0, </s> 1, <unk> 2, no BOS, the newline
// symbol <n> as a user-defined piece), trained by Debian's spm_train (package sentencepiece) on text written here.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pyramidion::testing {

inline bool spm_train_available() { return std::system("command -v spm_train >/dev/null 2>&1") == 0; }

// DIR/pegasus-spiece.model ("" when spm_train is absent or fails).
inline std::string make_pegasus_like_spiece(const std::filesystem::path& dir) {
  if (!spm_train_available()) return "";
  const std::filesystem::path text = dir / "pegasus-spiece.txt";
  {
    std::ofstream out(text);
    const char* lines[] = {
        "the patients were treated with insulin and the results were compared .",
        "a cat sat on the mat , then the cat ate the fish .",
        "summaries of long documents keep the most useful sentences .",
        "the encoder reads blocks of the input and the pooler keeps the best states .",
        "we measured the rouge scores of the model on the test set .",
        "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike .",
        "results were higher than the baseline in every experiment we ran .",
    };
    for (int i = 0; i < 30; ++i)
      for (const char* line : lines) out << line << "\n";
  }
  const std::string prefix = (dir / "pegasus-spiece").string();
  const std::string command = "spm_train --input='" + text.string() + "' --model_prefix='" + prefix +
                              "' --model_type=unigram --vocab_size=120 --hard_vocab_limit=false --pad_id=0 "
                              "--eos_id=1 --unk_id=2 --bos_id=-1 --user_defined_symbols='<n>' --minloglevel=2 "
                              ">/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return "";
  return prefix + ".model";
}

}  // namespace pyramidion::testing

#include "pyramidion/data/training_text.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace pyramidion::data {
namespace {

// Writes `sentence`, cut into pieces of at most max_bytes at spaces (or hard, for a space-free run).
void write_sentence(std::ofstream& out, const std::string& sentence, size_t max_bytes, TrainingTextReport& report) {
  size_t start = 0;
  while (start < sentence.size()) {
    size_t length = sentence.size() - start;
    if (length > max_bytes) {
      size_t cut = sentence.rfind(' ', start + max_bytes);
      if (cut == std::string::npos || cut <= start) {
        cut = start + max_bytes;
        while (cut > start && (static_cast<unsigned char>(sentence[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
        if (cut == start) cut = start + max_bytes;
      }
      length = cut - start;
    }
    std::string piece = sentence.substr(start, length);
    for (char& c : piece)
      if (c == '\n' || c == '\r') c = ' ';
    if (piece.find_first_not_of(' ') != std::string::npos) {
      out << piece << '\n';
      ++report.lines;
      report.bytes += static_cast<int64_t>(piece.size()) + 1;
    }
    start += length;
    while (start < sentence.size() && sentence[start] == ' ') ++start;
  }
}

}  // namespace

TrainingTextReport extract_training_text(const std::vector<std::string>& inputs, const std::string& output_path,
                                         const TrainingTextOptions& options) {
  std::ofstream out(output_path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + output_path + ": " + std::strerror(errno));
  TrainingTextReport report;
  for (const auto& input : inputs) {
    auto reader = open_reader(input, options.reader);
    SummarizationExample example;
    int64_t documents = 0;
    while ((options.max_documents <= 0 || documents < options.max_documents) && reader->next(example)) {
      ++documents;
      for (const auto& sentence : example.source_sentences)
        write_sentence(out, sentence, options.max_line_bytes, report);
      if (options.include_targets)
        for (const auto& sentence : example.target_sentences)
          write_sentence(out, sentence, options.max_line_bytes, report);
    }
    report.documents += documents;
  }
  out.flush();
  if (!out) throw std::runtime_error("error writing " + output_path);
  return report;
}

}  // namespace pyramidion::data

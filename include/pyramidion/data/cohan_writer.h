#pragma once
// Writes examples in the arXiv/PubMed JSONL layout of Cohan et al. that open_reader (data/readers.h) reads back
// as CorpusFormat::kCohan: one object a line with article_id, article_text (the source sentences) and abstract_text
// (the target sentences, each marked "<S> ... </S>"). So a generated corpus (the demo's test split) can be read by
// `summarize`, `evaluate` and `highlight`.
#include <string>
#include <vector>

#include "pyramidion/data/readers.h"

namespace pyramidion::data {

// Atomic (util/atomic_file.h): the file appears complete or not at all.
void write_cohan_jsonl(const std::string& path, const std::vector<SummarizationExample>& examples);

}  // namespace pyramidion::data

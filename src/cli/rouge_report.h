#pragma once
// Corpus ROUGE as a table (percent, with bootstrap intervals) or JSON; shared by `rouge` and `evaluate`.
#include <nlohmann/json.hpp>

#include <string>

#include "pyramidion/eval/rouge_bootstrap.h"

namespace pyramidion::cli {

struct RougeReportOptions {
  bool use_stemmer = true;
  std::string filter;  // shown when set
  BootstrapOptions bootstrap;
};

nlohmann::ordered_json rouge_report_json(const RougeCorpusScores& corpus, const RougeReportOptions& options);
void print_rouge_table(const RougeCorpusScores& corpus, const RougeReportOptions& options);

}  // namespace pyramidion::cli

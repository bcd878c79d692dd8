#pragma once
// Extractive lead baselines: the first sentences of the document as its summary.
//   lead-N                 the first N sentences (fewer when the document is shorter);
//   oracle-length lead     the first K sentences with K chosen per document from the reference's length: the
//                          fewest leading sentences whose words reach the reference's word count (words as the
//                          ROUGE tokenizer counts them). On long-abstract data (SumPubMed: ~200-word abstracts)
//                          lead-3 is unfairly short; this one matches the length a model is allowed to produce.
#include <cstddef>
#include <string>
#include <vector>

namespace pyramidion {

// The first `count` sentences joined by '\n' (ROUGE-Lsum's sentence separator).
std::string lead_summary(const std::vector<std::string>& sentences, size_t count);

// K for the oracle-length lead: at least 1, at most sentences.size().
size_t oracle_length_lead_count(const std::vector<std::string>& sentences, const std::string& reference);

}  // namespace pyramidion

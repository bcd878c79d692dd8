// NLTK's PorterStemmer (mode NLTK_EXTENSIONS), step by step in the same order and with the same rule lists,
// because any reordering changes which rule "claims" a suffix and so the stems rouge_score compares.
#include "pyramidion/eval/porter_stemmer.h"

#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pyramidion/util/text_predicates.h"

namespace pyramidion {
namespace {

bool is_vowel_letter(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// A consonant is any letter but a, e, i, o, u, and but a 'y' preceded by a consonant.
bool is_consonant(std::string_view word, std::size_t i) {
  if (is_vowel_letter(word[i])) return false;
  if (word[i] == 'y') return i == 0 ? true : !is_consonant(word, i - 1);
  return true;
}

// m in [C](VC){m}[V]: the number of vowel->consonant transitions.
int measure(std::string_view stem) {
  int m = 0;
  bool previous_is_vowel = false;
  for (std::size_t i = 0; i < stem.size(); ++i) {
    const bool consonant = is_consonant(stem, i);
    if (consonant && previous_is_vowel) ++m;
    previous_is_vowel = !consonant;
  }
  return m;
}

bool has_positive_measure(std::string_view stem) { return measure(stem) > 0; }

bool contains_vowel(std::string_view stem) {
  for (std::size_t i = 0; i < stem.size(); ++i)
    if (!is_consonant(stem, i)) return true;
  return false;
}

// Condition *d: ends with a double consonant.
bool ends_double_consonant(std::string_view word) {
  const std::size_t n = word.size();
  return n >= 2 && word[n - 1] == word[n - 2] && is_consonant(word, n - 1);
}

// Condition *o: ends consonant-vowel-consonant, the last not w, x or y; NLTK also accepts a two-letter
// vowel-consonant word.
bool ends_cvc(std::string_view word) {
  const std::size_t n = word.size();
  if (n >= 3 && is_consonant(word, n - 3) && !is_consonant(word, n - 2) && is_consonant(word, n - 1) &&
      word[n - 1] != 'w' && word[n - 1] != 'x' && word[n - 1] != 'y')
    return true;
  return n == 2 && !is_consonant(word, 0) && is_consonant(word, 1);
}

std::string_view without_suffix(std::string_view word, std::size_t suffix_length) {
  return word.substr(0, word.size() - suffix_length);
}

std::string join(std::string_view stem, std::string_view tail) {
  std::string out;
  out.reserve(stem.size() + tail.size());
  out.append(stem).append(tail);
  return out;
}

using Condition = bool (*)(std::string_view stem);

struct Rule {
  std::string_view suffix;
  std::string_view replacement;
  Condition condition;  // nullptr = unconditional
};

// NLTK's _apply_rule_list: the first rule whose suffix matches decides; if its condition fails the word is
// returned unchanged (later rules are not tried).
std::string apply_rule_list(std::string_view word, std::initializer_list<Rule> rules) {
  for (const Rule& rule : rules) {
    if (!ends_with(word, rule.suffix)) continue;
    const std::string_view stem = without_suffix(word, rule.suffix.size());
    if (rule.condition == nullptr || rule.condition(stem)) return join(stem, rule.replacement);
    return std::string(word);
  }
  return std::string(word);
}

std::string step1a(std::string_view word) {
  // NLTK: 'flies' -> 'fli' but 'dies' -> 'die'.
  if (ends_with(word, "ies") && word.size() == 4) return join(without_suffix(word, 3), "ie");
  return apply_rule_list(word,
                         {{"sses", "ss", nullptr}, {"ies", "i", nullptr}, {"ss", "ss", nullptr}, {"s", "", nullptr}});
}

std::string step1b(std::string_view word) {
  // NLTK: 'spied' -> 'spi' but 'died' -> 'die'.
  if (ends_with(word, "ied")) return join(without_suffix(word, 3), word.size() == 4 ? "ie" : "i");
  if (ends_with(word, "eed")) {
    const std::string_view stem = without_suffix(word, 3);
    return measure(stem) > 0 ? join(stem, "ee") : std::string(word);
  }
  std::string_view stem;
  bool trimmed = false;
  for (std::string_view suffix : {std::string_view("ed"), std::string_view("ing")}) {
    if (ends_with(word, suffix)) {
      stem = without_suffix(word, suffix.size());
      if (contains_vowel(stem)) {
        trimmed = true;
        break;
      }
    }
  }
  if (!trimmed) return std::string(word);

  // Same order as NLTK's rule list: at/bl/iz -> +e, then *d, then (m=1 and *o) -> +e.
  if (ends_with(stem, "at") || ends_with(stem, "bl") || ends_with(stem, "iz")) return join(stem, "e");
  if (ends_double_consonant(stem)) {
    const char last = stem.back();
    if (last != 'l' && last != 's' && last != 'z') return std::string(without_suffix(stem, 1));
    return std::string(stem);
  }
  if (measure(stem) == 1 && ends_cvc(stem)) return join(stem, "e");
  return std::string(stem);
}

bool step1c_condition(std::string_view stem) { return stem.size() > 1 && is_consonant(stem, stem.size() - 1); }

std::string step1c(std::string_view word) { return apply_rule_list(word, {{"y", "i", step1c_condition}}); }

std::string step2(std::string_view word) {
  // NLTK applies ALLI -> AL first and, when it fires, runs step 2 again on the result.
  if (ends_with(word, "alli") && has_positive_measure(without_suffix(word, 4)))
    return step2(join(without_suffix(word, 4), "al"));
  // NLTK's 'logi' -> 'log' (last in its list) keeps the 'l' with the stem: the measure is taken on the word
  // minus "ogi". No other step-2 suffix ends in "gi", so testing it first changes nothing.
  if (ends_with(word, "logi"))
    return has_positive_measure(without_suffix(word, 3)) ? join(without_suffix(word, 4), "log") : std::string(word);
  return apply_rule_list(word, {
                                   {"ational", "ate", has_positive_measure}, {"tional", "tion", has_positive_measure},
                                   {"enci", "ence", has_positive_measure},   {"anci", "ance", has_positive_measure},
                                   {"izer", "ize", has_positive_measure},    {"bli", "ble", has_positive_measure},
                                   {"alli", "al", has_positive_measure},     {"entli", "ent", has_positive_measure},
                                   {"eli", "e", has_positive_measure},       {"ousli", "ous", has_positive_measure},
                                   {"ization", "ize", has_positive_measure}, {"ation", "ate", has_positive_measure},
                                   {"ator", "ate", has_positive_measure},    {"alism", "al", has_positive_measure},
                                   {"iveness", "ive", has_positive_measure}, {"fulness", "ful", has_positive_measure},
                                   {"ousness", "ous", has_positive_measure}, {"aliti", "al", has_positive_measure},
                                   {"iviti", "ive", has_positive_measure},   {"biliti", "ble", has_positive_measure},
                                   {"fulli", "ful", has_positive_measure},
                               });
}

std::string step3(std::string_view word) {
  return apply_rule_list(word, {
                                   {"icate", "ic", has_positive_measure},
                                   {"ative", "", has_positive_measure},
                                   {"alize", "al", has_positive_measure},
                                   {"iciti", "ic", has_positive_measure},
                                   {"ical", "ic", has_positive_measure},
                                   {"ful", "", has_positive_measure},
                                   {"ness", "", has_positive_measure},
                               });
}

bool measure_gt_1(std::string_view stem) { return measure(stem) > 1; }

bool ion_condition(std::string_view stem) { return measure(stem) > 1 && (stem.back() == 's' || stem.back() == 't'); }

std::string step4(std::string_view word) {
  return apply_rule_list(word, {
                                   {"al", "", measure_gt_1},   {"ance", "", measure_gt_1}, {"ence", "", measure_gt_1},
                                   {"er", "", measure_gt_1},   {"ic", "", measure_gt_1},   {"able", "", measure_gt_1},
                                   {"ible", "", measure_gt_1}, {"ant", "", measure_gt_1},  {"ement", "", measure_gt_1},
                                   {"ment", "", measure_gt_1}, {"ent", "", measure_gt_1},  {"ion", "", ion_condition},
                                   {"ou", "", measure_gt_1},   {"ism", "", measure_gt_1},  {"ate", "", measure_gt_1},
                                   {"iti", "", measure_gt_1},  {"ous", "", measure_gt_1},  {"ive", "", measure_gt_1},
                                   {"ize", "", measure_gt_1},
                               });
}

// Unlike the other steps both E rules are tried (m>1, then m=1 and not *o).
std::string step5a(std::string_view word) {
  if (ends_with(word, "e")) {
    const std::string_view stem = without_suffix(word, 1);
    const int m = measure(stem);
    if (m > 1) return std::string(stem);
    if (m == 1 && !ends_cvc(stem)) return std::string(stem);
  }
  return std::string(word);
}

std::string step5b(std::string_view word) {
  // (m > 1 and *d and *L) -> single letter; the measure is taken on the word minus one 'l'.
  if (ends_with(word, "ll") && measure(without_suffix(word, 1)) > 1) return std::string(without_suffix(word, 1));
  return std::string(word);
}

const std::unordered_map<std::string_view, std::string_view>& irregular_forms() {
  static const std::unordered_map<std::string_view, std::string_view> forms = {
      {"sky", "sky"},        {"skies", "sky"},       {"dying", "die"},        {"lying", "lie"},
      {"tying", "tie"},      {"news", "news"},       {"innings", "inning"},   {"inning", "inning"},
      {"outings", "outing"}, {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
      {"howe", "howe"},      {"proceed", "proceed"}, {"exceed", "exceed"},    {"succeed", "succeed"},
  };
  return forms;
}

}  // namespace

std::string PorterStemmer::stem(std::string_view word) const {
  // NLTK looks the word up before lower-casing it, and skips 1-2 letter words by their original length.
  const auto& irregular = irregular_forms();
  if (auto it = irregular.find(word); it != irregular.end()) return std::string(it->second);
  std::string lowered(word);
  for (char& c : lowered)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (word.size() <= 2) return lowered;

  std::string stem = step1a(lowered);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = step3(stem);
  stem = step4(stem);
  stem = step5a(stem);
  stem = step5b(stem);
  return stem;
}

}  // namespace pyramidion

#pragma once
// Checks for numeric CLI options. CLI11's Range / PositiveNumber / NonNegativeNumber let NaN through (every
// comparison with NaN is false) and accept inf; these refuse both, and name the bound in the error
// ("--lr: 'nan' is not a finite number").
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace pyramidion::cli {

inline CLI::Validator finite_number_check(double low, bool low_inclusive, double high, const std::string& description) {
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        const char* begin = input.c_str();
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(begin, &end);
        if (end == begin || *end != '\0') return "'" + input + "' is not a number";
        if (!std::isfinite(value) || errno == ERANGE) return "'" + input + "' is not a finite number";
        if (low_inclusive ? value < low : value <= low) return "'" + input + "' must be " + description;
        if (value > high) return "'" + input + "' must be " + description;
        return "";
      },
      description);
}

inline CLI::Validator positive_number() {
  return finite_number_check(0, false, std::numeric_limits<double>::max(), "a finite number > 0");
}
inline CLI::Validator non_negative_number() {
  return finite_number_check(0, true, std::numeric_limits<double>::max(), "a finite number >= 0");
}
inline CLI::Validator number_range(double low, double high) {
  return finite_number_check(low, true, high,
                             "in [" + CLI::detail::to_string(low) + ", " + CLI::detail::to_string(high) + "]");
}

}  // namespace pyramidion::cli

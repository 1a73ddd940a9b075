// "Did you mean" hints for unknown names (options, keys, built-in models and accelerators).
#pragma once
#include <algorithm>
#include <string>
#include <vector>

namespace acceltran {

// Edit distance (insertions, deletions, substitutions) between a and b.
inline size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1u : 0u)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within a third of the word's length (at
// least 2 edits, or a candidate that starts with the word), else "".
inline std::string did_you_mean(const std::string& word,
                                const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_d = 0;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (!best || d < best_d) {
      best = &c;
      best_d = d;
    }
  }
  if (!best || word.empty()) return "";
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  if (best_d <= allowed) return " (did you mean '" + *best + "'?)";
  for (const auto& c : candidates)
    if (c.rfind(word, 0) == 0) return " (did you mean '" + c + "'?)";
  return "";
}

}  // namespace acceltran

#pragma once
// A length curriculum: training runs in stages, each with its own maximum source / target length and token
// budget per batch, so a model first learns on short inputs (cheap, and the decoder discovers copying through
// cross-attention before pooling has anything to choose) and then on longer ones.
//
//   training:
//     curriculum:
//       unit: updates          # `until` counts completed updates (or `epochs`: the stage's last epoch)
//       overlong: truncate     # longer examples are cut to the stage's lengths (or `skip`: left out)
//       stages:
//         - {until: 2000, max_source_length: 128, max_tokens: 4096}
//         - {until: 6000, max_source_length: 512}
//         - {max_source_length: 0}   # the last stage has no `until`: it lasts until training ends; 0 = no cut
//
// The trainer (training/trainer.h) moves to the next stage when its update or epoch is reached, in a fresh epoch
// (the batch order is a function of the lengths), and records the stage in the training state, so `--resume`
// continues in the right stage. Unit `manual` (library only): the stage changes only when the program calls
// Trainer::set_curriculum_stage() on its own criteria (the demo: a share of its time budget or a greedy exact
// match). Validation always uses the full lengths.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pyramidion {

struct CurriculumStage {
  int64_t until = 0;              // unit updates: this stage trains while fewer updates are done; epochs: through
                                  // this epoch; 0 = until training ends (the last stage only)
  int64_t max_source_length = 0;  // tokens, EOS included; 0 = the model's max_source_positions
  int64_t max_target_length = 0;  // tokens, EOS included; 0 = the model's max_target_positions
  int64_t max_tokens = 0;         // token budget per batch in this stage; 0 = training.max_tokens
};

enum class CurriculumUnit { updates, epochs, manual };
enum class OverlongExamples { truncate, skip };

struct CurriculumConfig {
  CurriculumUnit unit = CurriculumUnit::updates;
  OverlongExamples overlong = OverlongExamples::truncate;
  std::vector<CurriculumStage> stages;  // empty = no curriculum

  bool enabled() const { return !stages.empty(); }
  // Reads the `training.curriculum` map (`field` is its dotted name for errors); errors name origin and key.
  static CurriculumConfig from_yaml(const YAML::Node& node, const std::string& origin, const std::string& field);
  YAML::Node to_yaml() const;
  // Throws std::invalid_argument naming the key ("training.curriculum.stages.1.until: ...").
  void validate() const;
};

std::string name_of(CurriculumUnit unit);
std::string name_of(OverlongExamples overlong);

// The examples of one stage, for batching: lengths as the batches will see them, and which examples take part.
struct StageExamples {
  std::vector<int64_t> source_lengths, target_lengths;  // one per dataset example, cut to the stage's lengths
  std::vector<int64_t> kept;                            // dataset indices in the stage (all with truncate)
};

class Curriculum {
 public:
  Curriculum() = default;                        // no curriculum: one stage without limits
  explicit Curriculum(CurriculumConfig config);  // validates

  bool enabled() const { return config_.enabled(); }
  const CurriculumConfig& config() const { return config_; }
  int64_t stages() const { return enabled() ? static_cast<int64_t>(config_.stages.size()) : 1; }
  const CurriculumStage& stage(int64_t index) const;  // index in 0..stages()-1

  // The stage of the next update, given the completed updates and the current (1-based) epoch; with unit
  // manual, `current` (the stage the program last chose).
  int64_t stage_at(int64_t completed_updates, int64_t epoch, int64_t current) const;

  // The stage's lengths: each example's (already model-clipped) lengths cut to the stage's maxima (truncate),
  // or the examples that exceed them left out (skip).
  StageExamples examples(int64_t stage, const std::vector<int64_t>& source_lengths,
                         const std::vector<int64_t>& target_lengths) const;
  // "stage 2 of 3 (source <= 512, target <= 64, max_tokens 8192, until update 6000)" for the log.
  std::string describe(int64_t stage, int64_t default_max_tokens) const;

 private:
  CurriculumConfig config_;
  CurriculumStage unlimited_;
};

}  // namespace pyramidion

// `pyramidion demo`: the embedded default. Generates the synthetic cue-passage corpus, trains a word-level
// tokenizer and a tiny DeepPyramidion on it within a time budget (a length curriculum: the decoder learns
// to copy on short documents before pooling has anything to choose), evaluates it against lead-3, reports
// what the last pooler keeps, summarizes a held-out document and leaves a model file for `summarize`.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "command.h"
#include "numeric_checks.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/cohan_writer.h"
#include "pyramidion/data/synthetic_corpus.h"
#include "pyramidion/data/synthetic_encoding.h"
#include "pyramidion/data/tokenizer.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/evaluation/corpus_evaluation.h"
#include "pyramidion/models/eval_mode_scope.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/nn/pooling_report.h"
#include "pyramidion/training/trainer.h"
#include "pyramidion/training/training_config.h"
#include "pyramidion/training/training_run.h"
#include "pyramidion/util/atomic_file.h"

namespace pyramidion::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct DemoOptions {
  std::string output = "pyramidion-demo";
  double minutes = 15;
  uint64_t seed = 2022;
  int64_t test_documents = 200;
  int64_t beam = 4;
  std::string config;  // "" = the demo preset
  std::vector<std::string> overrides;
};

// One step of the length curriculum: its own corpus of shorter documents and token budget, ended by the demo's
// criteria (time share, greedy exact match). The trainer holds it as a manual-unit training/curriculum.h stage.
struct Stage {
  int64_t max_words;  // documents of max_words / 2 .. max_words words
  int64_t train_documents;
  int64_t max_tokens;    // token budget per batch
  double until_share;    // this stage ends at the latest when this share of the training time is used
  double advance_match;  // or earlier, once greedy exact match on its validation documents reaches this
};

const std::vector<Stage> kStages = {
    {64, 20000, 2600, 0.40, 0.40},
    {256, 8000, 6000, 0.65, 0.50},
    {512, 6000, 10000, 1.00, 2.00},
};

// A corpus document as token ids, with a class per source token (the library's encoding, data/synthetic_encoding.h).
using EncodedDocument = data::EncodedSyntheticDocument;

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

// The trainer's view of kStages: one manual stage each, with its token budget (the stage corpora are already
// as short as the stage wants, so no length cut).
CurriculumConfig demo_curriculum() {
  CurriculumConfig curriculum;
  curriculum.unit = CurriculumUnit::manual;
  for (const auto& stage : kStages) {
    CurriculumStage s;
    s.max_tokens = stage.max_tokens;
    curriculum.stages.push_back(s);
  }
  return curriculum;
}

data::SyntheticCorpus stage_corpus(const Stage& stage, uint64_t seed) {
  data::SyntheticCorpusOptions options;
  options.seed = seed;
  options.min_words = stage.max_words / 2;
  options.max_words = stage.max_words;
  return data::SyntheticCorpus(options);
}

// Right-padded (batch, len) tensors of a few documents.
struct DocumentBatch {
  torch::Tensor source, mask, classes;
};
DocumentBatch collate(const std::vector<EncodedDocument>& docs, size_t begin, size_t end, int64_t pad_id) {
  int64_t longest = 0;
  for (size_t i = begin; i < end; ++i) longest = std::max<int64_t>(longest, docs[i].source.size());
  const int64_t n = static_cast<int64_t>(end - begin);
  DocumentBatch b{torch::full({n, longest}, pad_id, torch::kLong), torch::zeros({n, longest}, torch::kBool),
                  torch::zeros({n, longest}, torch::kLong)};
  for (size_t i = begin; i < end; ++i) {
    const int64_t len = static_cast<int64_t>(docs[i].source.size());
    b.source[i - begin].narrow(0, 0, len).copy_(torch::tensor(docs[i].source, torch::kLong));
    b.classes[i - begin].narrow(0, 0, len).copy_(torch::tensor(docs[i].classes, torch::kLong));
    b.mask[i - begin].narrow(0, 0, len).fill_(true);
  }
  return b;
}

PoolingReport pooling_report(SummarizationModel& model, const std::vector<EncodedDocument>& docs, int64_t pad_id) {
  EvalModeScope eval_mode(model);
  c10::InferenceMode inference;
  const auto device = model->parameters().front().device();
  PoolingReportAccumulator accumulator;
  for (size_t start = 0; start < docs.size(); start += 16) {
    const size_t end = std::min(docs.size(), start + 16);
    auto batch = collate(docs, start, end, pad_id);
    auto output = model->encode(batch.source.to(device), batch.mask.to(device));
    accumulator.add(output, batch.classes, batch.mask);
  }
  return accumulator.result();
}

struct Quality {
  double exact = 0;  // share of documents whose summary is reproduced exactly
  RougeScores rouge;
  std::vector<std::string> predictions;
};

// The one corpus evaluation (evaluation/corpus_evaluation.h), plus the demo's exact match.
Quality summarize_and_score(SummarizationModel& model,
                            const std::shared_ptr<const data::SentencePieceTokenizer>& tokenizer,
                            const std::vector<EncodedDocument>& docs, const BeamSearchOptions& search) {
  CorpusEvaluationOptions options;
  options.generation.search = search;
  std::vector<std::vector<int64_t>> sources;
  std::vector<std::string> references;
  for (const auto& d : docs) {
    sources.push_back(d.source);
    references.push_back(d.reference);
  }
  CorpusEvaluation evaluation;
  {
    EvalModeScope eval_mode(model);
    evaluation = evaluate_corpus(Summarizer(model, tokenizer), sources, references, options);
  }
  Quality q;
  for (size_t i = 0; i < docs.size(); ++i) {
    const std::vector<int64_t> want(docs[i].target.begin(), docs[i].target.end() - 1);
    if (!evaluation.predictions.tokens[i].empty() && evaluation.predictions.tokens[i] == want) q.exact += 1;
  }
  q.exact /= static_cast<double>(std::max<size_t>(docs.size(), 1));
  q.rouge = evaluation.mean();
  q.predictions = std::move(evaluation.predictions.texts);
  return q;
}

RougeScores lead_scores(const std::vector<data::SyntheticDocument>& docs) {
  std::vector<std::string> references, leads;
  for (const auto& d : docs) {
    references.push_back(join(d.summary, "\n"));
    leads.push_back(join(data::lead_sentences(d, 3), "\n"));
  }
  return mean_scores(score_summaries(references, leads));
}

nlohmann::ordered_json pooling_json(const PoolingReport& r) {
  return {{"documents", r.documents},
          {"slots", r.slots},
          {"salient_share", r.salient_share},
          {"base_rate", r.base_rate},
          {"ceiling", r.ceiling},
          {"recall", {{"salient", r.recall[1]}, {"distractor", r.recall[2]}, {"filler", r.recall[0]}}}};
}

nlohmann::ordered_json rouge_json(const RougeScores& r) {
  return {{"rouge1", r.rouge1.fmeasure},
          {"rouge2", r.rouge2.fmeasure},
          {"rougeL", r.rougeL.fmeasure},
          {"rougeLsum", r.rougeLsum.fmeasure}};
}

void run(const DemoOptions& o) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a log file
  const auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  const double budget = o.minutes * 60.0;
  if (!std::isfinite(budget) || budget <= 0) throw CommandError("--minutes must be a positive number of minutes");
  fs::create_directories(o.output);
  fmt::print("pyramidion demo: synthetic cue-passage corpus -> tokenizer -> tiny DeepPyramidion -> evaluation\n");
  fmt::print("budget {:.1f} min, {} threads, output in {}/\n\n", o.minutes, torch::get_num_threads(), o.output);

  // 1. Tokenizer: one piece per word of the corpus vocabulary.
  const data::SyntheticCorpus base_corpus = stage_corpus(kStages.front(), o.seed);
  const auto vocabulary = base_corpus.vocabulary();
  const std::string text_path = (fs::path(o.output) / "tokenizer-text.txt").string();
  {
    std::ofstream text(text_path);
    text << join(vocabulary, " ") << "\n";
    for (int64_t i = 0; i < 2000; ++i) text << join(base_corpus.document("train", i).sentences, "\n") << "\n";
  }
  data::TokenizerTrainOptions tokenizer_options;
  tokenizer_options.input_files = {text_path};
  tokenizer_options.output_path = (fs::path(o.output) / "spm.model").string();
  tokenizer_options.model_type = "word";
  tokenizer_options.vocab_size = static_cast<int64_t>(vocabulary.size()) + 5;  // + pad, unk, bos, eos, <sep>
  tokenizer_options.seed = static_cast<int64_t>(o.seed);
  const auto shared_tokenizer =
      std::make_shared<const data::SentencePieceTokenizer>(data::SentencePieceTokenizer::train(tokenizer_options));
  const auto& tokenizer = *shared_tokenizer;
  fs::remove(text_path);
  fmt::print("[{:5.0f}s] tokenizer: {} pieces (one per word)\n", elapsed(), tokenizer.vocab_size());

  // 2. Data: each curriculum stage's training set as a binary dataset, plus validation and test documents.
  const fs::path data_dir = fs::path(o.output) / "data";
  fs::create_directories(data_dir);
  std::vector<std::shared_ptr<data::BinaryDataset>> stage_train;
  std::vector<std::vector<EncodedDocument>> stage_valid;
  for (size_t s = 0; s < kStages.size(); ++s) {
    const auto corpus = stage_corpus(kStages[s], o.seed);
    const std::string path = (data_dir / fmt::format("stage{}-train.bin", s + 1)).string();
    data::BinaryDatasetWriter writer(path, tokenizer.vocab_size());
    for (int64_t i = 0; i < kStages[s].train_documents; ++i) {
      const auto doc = corpus.document("train", i);
      const auto e = data::encode_synthetic_document(tokenizer, doc);
      writer.add(doc.id, e.source, e.target);
    }
    writer.finish();
    stage_train.push_back(std::make_shared<data::BinaryDataset>(path));
    std::vector<EncodedDocument> valid;
    for (int64_t i = 0; i < 48; ++i)
      valid.push_back(data::encode_synthetic_document(tokenizer, corpus.document("valid", i)));
    stage_valid.push_back(std::move(valid));
  }
  const auto test_corpus = stage_corpus(kStages.back(), o.seed);
  std::vector<data::SyntheticDocument> test_docs;
  std::vector<EncodedDocument> test_encoded;
  for (int64_t i = 0; i < o.test_documents; ++i) {
    test_docs.push_back(test_corpus.document("test", i));
    test_encoded.push_back(data::encode_synthetic_document(tokenizer, test_docs.back()));
  }
  {  // the test split in the arXiv/PubMed JSONL layout, so `summarize` and `evaluate` can read it
    std::vector<data::SummarizationExample> examples;
    for (const auto& d : test_docs) examples.push_back({d.id, d.sentences, d.summary});
    data::write_cohan_jsonl((fs::path(o.output) / "test.jsonl").string(), examples);
  }
  // A small validation set for the trainer (loss only), from the last stage.
  const std::string valid_path = (data_dir / "valid.bin").string();
  {
    data::BinaryDatasetWriter writer(valid_path, tokenizer.vocab_size());
    for (int64_t i = 0; i < 64; ++i) {
      const auto doc = test_corpus.document("valid", i);
      const auto e = data::encode_synthetic_document(tokenizer, doc);
      writer.add(doc.id, e.source, e.target);
    }
    writer.finish();
  }
  fmt::print("[{:5.0f}s] corpus: {} / {} / {} training documents of up to {} / {} / {} words, {} test documents\n",
             elapsed(), kStages[0].train_documents, kStages[1].train_documents, kStages[2].train_documents,
             kStages[0].max_words, kStages[1].max_words, kStages[2].max_words, o.test_documents);

  // 3. Model and trainer from the demo preset (or -c), with --set overrides.
  RunConfig run_config =
      resolve_run_config(o.config, o.config.empty() ? "demo" : "", o.overrides, tokenizer.vocab_size());
  run_config.training.seed = static_cast<int64_t>(o.seed);
  if (run_config.training.curriculum.enabled())
    spdlog::warn("demo: training.curriculum of the config is replaced by the demo's own stages");
  run_config.training.curriculum = demo_curriculum();
  // The training job (training/training_run.h): the same checks of config against data as `pyramidion train`.
  TrainingJob job;
  job.config = run_config;
  job.train = stage_train[0];
  job.valid = std::make_shared<data::BinaryDataset>(valid_path);
  job.tokenizer_bytes = tokenizer.serialized();
  job.tokenizer_origin = tokenizer_options.output_path;
  job.trainer.save_dir = (fs::path(o.output) / "train").string();
  // The demo prints one line per check (rate, ETA, quality); a bar redrawn between them would tear the lines.
  job.trainer.progress = false;
  job.trainer.log_lines = false;
  const std::unique_ptr<Trainer> training = start_training(std::move(job));
  Trainer& trainer = *training;
  auto model = trainer.model();
  fmt::print("[{:5.0f}s] model: {} parameters; encoder lengths for 512 tokens:", elapsed(), model->parameter_count());
  for (int64_t len : run_config.model.encoder_lengths(512)) fmt::print(" {}", len);
  fmt::print("\n\n");

  // 4. Train: curriculum stages, each checked every `chunk` updates with greedy decoding.
  const double reserve = std::min(90.0, 0.15 * budget);  // final evaluation and report
  const double train_seconds = std::max(10.0, budget - elapsed() - reserve);
  const double train_start = elapsed();
  BeamSearchOptions greedy;
  greedy.beam = 1;
  greedy.max_len_b = 48;
  nlohmann::ordered_json curve = nlohmann::ordered_json::array();
  const int64_t chunk = 100;
  for (size_t s = 0; s < kStages.size(); ++s) {
    trainer.set_train_dataset(stage_train[s], kStages[s].max_tokens);
    trainer.set_curriculum_stage(static_cast<int64_t>(s));  // recorded in the training state
    fmt::print("stage {}: documents of {}-{} words\n", s + 1, kStages[s].max_words / 2, kStages[s].max_words);
    while (true) {
      const double used = elapsed() - train_start;
      const double stage_end = kStages[s].until_share * train_seconds;
      if (used >= stage_end) break;
      auto summary = trainer.run_for(chunk, stage_end - used);
      auto check = summarize_and_score(model, shared_tokenizer, stage_valid[s], greedy);
      auto pooled = pooling_report(model, stage_valid[s], tokenizer.pad_id());
      nlohmann::ordered_json point{{"update", trainer.update()},
                                   {"seconds", elapsed()},
                                   {"stage", s + 1},
                                   {"max_words", kStages[s].max_words},
                                   {"train_loss", summary.mean_loss},
                                   {"exact_match", check.exact},
                                   {"rouge2", check.rouge.rouge2.fmeasure},
                                   {"pooling", pooling_json(pooled)}};
      curve.push_back(point);
      const double left = std::max(0.0, train_seconds - (elapsed() - train_start));
      fmt::print(
          "  update {:5d}  {:5.0f}s  {:5.1f} upd/s  eta {:2.0f}:{:02.0f}  loss {:6.3f}  greedy exact match {:5.1f}%  "
          "ROUGE-2 {:5.1f}  salient share {:.2f} (base {:.3f}, ceiling {:.2f})\n",
          trainer.update(), elapsed(), summary.updates_per_second, std::floor(left / 60), std::fmod(left, 60.0),
          summary.mean_loss, 100 * check.exact, 100 * check.rouge.rouge2.fmeasure, pooled.salient_share,
          pooled.base_rate, pooled.ceiling);
      if (summary.stop_reason == "signal") throw CommandError("interrupted", 130);
      if (check.exact >= kStages[s].advance_match) break;
    }
  }
  {
    AtomicFileWriter writer((fs::path(o.output) / "curve.jsonl").string(), false);
    for (const auto& p : curve) writer.stream() << p.dump() << "\n";
    writer.commit();
  }

  // 5. Evaluate on held-out documents of the longest stage.
  fmt::print("\n[{:5.0f}s] evaluating on {} held-out documents ({}-{} words, beam {})\n", elapsed(), o.test_documents,
             kStages.back().max_words / 2, kStages.back().max_words, o.beam);
  BeamSearchOptions search;
  search.beam = o.beam;
  search.max_len_b = 48;
  auto quality = summarize_and_score(model, shared_tokenizer, test_encoded, search);
  auto lead = lead_scores(test_docs);
  auto pooled = pooling_report(model, test_encoded, tokenizer.pad_id());
  fmt::print("\n{:<22} {:>8} {:>8} {:>8} {:>10} {:>12}\n", "system", "ROUGE-1", "ROUGE-2", "ROUGE-L", "ROUGE-Lsum",
             "exact match");
  fmt::print("{:<22} {:8.2f} {:8.2f} {:8.2f} {:10.2f} {:>12}\n", "lead-3", 100 * lead.rouge1.fmeasure,
             100 * lead.rouge2.fmeasure, 100 * lead.rougeL.fmeasure, 100 * lead.rougeLsum.fmeasure, "-");
  fmt::print("{:<22} {:8.2f} {:8.2f} {:8.2f} {:10.2f} {:11.1f}%\n", "tiny DeepPyramidion",
             100 * quality.rouge.rouge1.fmeasure, 100 * quality.rouge.rouge2.fmeasure,
             100 * quality.rouge.rougeL.fmeasure, 100 * quality.rouge.rougeLsum.fmeasure, 100 * quality.exact);
  const auto& last_pool = run_config.model.pooling.schedule;
  const int64_t final_width = last_pool.empty() ? 0 : last_pool.rbegin()->second;
  fmt::print("\nwhat the last pooler keeps ({} slots of each document, soft top-k provenance):\n", final_width);
  fmt::print(
      "  slots dominated (>50%) by salient tokens: {:.1f}%   (base rate of salient tokens {:.1f}%, ceiling {:.1f}%)\n",
      100 * pooled.salient_share, 100 * pooled.base_rate, 100 * pooled.ceiling);
  fmt::print("  tokens that dominate a slot, per class: salient {:.1f}%, distractor {:.1f}%, filler {:.1f}%\n",
             100 * pooled.recall[1], 100 * pooled.recall[2], 100 * pooled.recall[0]);
  const bool learned = quality.rouge.rouge2.fmeasure > lead.rouge2.fmeasure + 0.05 && quality.exact > 0;
  const bool pooler_learned = pooled.salient_share > 3 * pooled.base_rate && pooled.recall[1] > 2 * pooled.recall[0];
  fmt::print("\nverdict: the model {} (ROUGE-2 {:.1f} vs lead-3 {:.1f}, exact match {:.1f}%);\n",
             learned ? "learned to summarize" : "did NOT clearly learn within the budget",
             100 * quality.rouge.rouge2.fmeasure, 100 * lead.rouge2.fmeasure, 100 * quality.exact);
  fmt::print("         the unsupervised pooler {} (salient share {:.1f}% vs base rate {:.1f}%).\n",
             pooler_learned ? "learned to keep the salient passages" : "did NOT clearly rise above the base rate",
             100 * pooled.salient_share, 100 * pooled.base_rate);
  if (!pooler_learned)
    fmt::print("         A longer run shows it learning: see docs/demo.md (e.g. pyramidion demo --minutes 40).\n");

  // 6. One held-out document.
  const auto& doc = test_docs.front();
  fmt::print("\nheld-out document {} ({} words); its cue-marked passages:\n", doc.id, doc.words.size());
  for (const auto& sentence : doc.sentences)
    if (sentence.rfind("finding ", 0) == 0) fmt::print("  > {}\n", sentence);
  fmt::print("reference: {}\nsummary:   {}\n", join(doc.summary, " | "), [&] {
    std::string s = quality.predictions.front();
    for (char& c : s)
      if (c == '\n') c = '|';
    return s;
  }());

  // 7. The model file and the report.
  const std::string model_path = (fs::path(o.output) / "model.pt").string();
  nlohmann::ordered_json report;
  report["minutes"] = elapsed() / 60.0;
  report["updates"] = trainer.update();
  report["threads"] = torch::get_num_threads();
  report["lead3"] = rouge_json(lead);
  report["model"] = rouge_json(quality.rouge);
  report["exact_match"] = quality.exact;
  report["pooling"] = pooling_json(pooled);
  report["learned"] = learned;
  report["pooler_learned"] = pooler_learned;
  nlohmann::json metadata{{"demo", report}};
  save_model_file(model_path, model, tokenizer.serialized(), metadata);
  {
    AtomicFileWriter writer((fs::path(o.output) / "report.json").string(), false);
    writer.stream() << report.dump(2) << "\n";
    writer.commit();
  }
  fmt::print("\n[{:5.0f}s] wrote {} ; try:\n  pyramidion summarize -m {} -i {}/test.jsonl -o {}/summaries.jsonl\n",
             elapsed(), model_path, model_path, o.output, o.output);
}

}  // namespace

PYRAMIDION_COMMAND("demo", [](CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo", "train and evaluate a tiny DeepPyramidion on a generated corpus (the embedded default)");
  cmd->add_option("-o,--output", o->output, "directory for the corpus, model and report")->capture_default_str();
  cmd->add_option("--minutes", o->minutes, "time budget, all steps included")->capture_default_str();
  cmd->add_option("--seed", o->seed, "corpus and training seed")->capture_default_str();
  cmd->add_option("--test-documents", o->test_documents, "held-out documents evaluated")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--beam", o->beam, "beam size of the final evaluation")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("-c,--config", o->config, "model + training YAML instead of the demo preset");
  cmd->add_option("--set", o->overrides, "key=value overrides (model or training keys)");
  cmd->callback([o] { run(*o); });
});

}  // namespace pyramidion::cli

// Summarizer (the library's generation entry point) on a real (tiny, random, float64) model: greedy equals the
// argmax of the full teacher-forced forward pass; batched generation equals one document at a time; four threads
// on one loaded model give what one thread gives; the model's train/eval state is never touched.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <set>

#include <algorithm>
#include <thread>

#include "../data/tokenizer_fixture.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/nn/representation_pooler.h"

namespace pyramidion {
namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 30;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.chunk_size = 8;
  c.pooling.schedule = {{0, 12}, {1, 6}};
  c.max_source_positions = 64;
  c.max_target_positions = 32;
  return c;
}

// copy: with copy attention (pointer-generator through the pooled memory), reading the last layer's 2 heads.
SummarizationModel float64_model(uint64_t seed, bool copy = false) {
  torch::manual_seed(seed);
  ModelConfig config = tiny_config();
  config.copy_attention = copy;
  config.alignment_heads = 2;
  SummarizationModel model(config);
  model->to(torch::kDouble);
  model->eval();
  return model;
}

std::vector<int64_t> random_document(int64_t length, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto t = torch::randint(4, 30, {length}, gen, torch::kLong);
  std::vector<int64_t> doc(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
  doc.back() = 3;  // EOS
  return doc;
}

TEST(Summarizer, GreedyEqualsArgmaxOfTheFullForwardPass) {
  for (bool copy : {false, true})
    for (uint64_t seed : {1, 2, 3}) {
      SCOPED_TRACE(copy ? "copy attention" : "no copy");
      auto model = float64_model(seed, copy);
      auto doc = random_document(40, seed);
      GenerationOptions options;
      options.search.beam = 1;
      options.search.min_len = 2;
      options.search.max_len_b = 12;
      const Summarizer summarizer(model, nullptr);
      auto result = summarizer.summarize_tokens({doc}, options);
      ASSERT_EQ(result.size(), 1u);
      ASSERT_EQ(result[0].hypotheses.size(), 1u);

      torch::NoGradGuard no_grad;
      auto source = torch::tensor(doc, torch::kLong).unsqueeze(0);
      auto mask = torch::ones_like(source, torch::kBool);
      std::vector<int64_t> prefix = {model->config().bos_id};
      std::vector<int64_t> greedy;
      for (int64_t step = 0; step <= 12; ++step) {
        auto logits = model->forward(source, mask, torch::tensor(prefix, torch::kLong).unsqueeze(0))[0][-1];
        logits[model->config().pad_id] = -INFINITY;
        if (step < 2) logits[model->config().eos_id] = -INFINITY;
        int64_t next = step == 12 ? model->config().eos_id : logits.argmax().item<int64_t>();
        if (next == model->config().eos_id) break;
        greedy.push_back(next);
        prefix.push_back(next);
      }
      EXPECT_EQ(result[0].hypotheses[0].tokens, greedy) << "seed " << seed;
    }
}

// A float32 model (the one-pass vocabulary projection, float log-probabilities): the greedy argmax path gives
// the beam machinery's summaries at beam 1, to the bit, with documents ending at different steps.
TEST(Summarizer, Float32GreedyPathEqualsTheBeamMachinery) {
  torch::manual_seed(9);
  SummarizationModel model(tiny_config());
  model->eval();
  const std::vector<std::vector<int64_t>> docs = {random_document(40, 7), random_document(13, 8),
                                                  random_document(25, 9)};
  GenerationOptions options;
  options.search.beam = 1;
  options.search.min_len = 1;
  options.search.max_len_a = 0.3;
  options.search.max_len_b = 3;
  const Summarizer summarizer(model, nullptr);
  auto fast = summarizer.summarize_tokens(docs, options);
  options.search.greedy_argmax = false;
  auto slow = summarizer.summarize_tokens(docs, options);
  ASSERT_EQ(fast.size(), slow.size());
  for (size_t d = 0; d < fast.size(); ++d) {
    ASSERT_EQ(fast[d].hypotheses.size(), slow[d].hypotheses.size());
    for (size_t i = 0; i < fast[d].hypotheses.size(); ++i) {
      EXPECT_EQ(fast[d].hypotheses[i].tokens, slow[d].hypotheses[i].tokens) << "doc " << d;
      EXPECT_EQ(fast[d].hypotheses[i].score, slow[d].hypotheses[i].score) << "doc " << d;
    }
  }
}

TEST(Summarizer, BatchedEqualsOneByOne) {
  for (bool copy : {false, true}) {
    SCOPED_TRACE(copy ? "copy attention" : "no copy");
    auto model = float64_model(5, copy);
    std::vector<std::vector<int64_t>> docs = {random_document(50, 1), random_document(9, 2), random_document(30, 3),
                                              random_document(13, 4)};
    GenerationOptions options;
    options.search.beam = 3;
    options.search.nbest = 2;
    options.search.max_len_b = 10;
    options.search.no_repeat_ngram_size = 2;
    const Summarizer summarizer(model, nullptr);
    auto batched = summarizer.summarize_tokens(docs, options);
    ASSERT_EQ(batched.size(), docs.size());
    for (size_t i = 0; i < docs.size(); ++i) {
      EXPECT_EQ(batched[i].source_tokens, static_cast<int64_t>(docs[i].size()));
      EXPECT_FALSE(batched[i].truncated);
      auto alone = summarizer.summarize_tokens({docs[i]}, options);
      ASSERT_EQ(alone[0].hypotheses.size(), batched[i].hypotheses.size());
      ASSERT_EQ(batched[i].hypotheses.size(), 2u);
      for (size_t h = 0; h < alone[0].hypotheses.size(); ++h) {
        EXPECT_EQ(alone[0].hypotheses[h].tokens, batched[i].hypotheses[h].tokens) << "doc " << i << " hyp " << h;
        EXPECT_NEAR(alone[0].hypotheses[h].score, batched[i].hypotheses[h].score, 1e-9);
      }
    }
    // Small batches (one document each) give the same as one big batch.
    options.max_documents_per_batch = 1;
    auto singles = summarizer.summarize_tokens(docs, options);
    for (size_t i = 0; i < docs.size(); ++i)
      EXPECT_EQ(singles[i].hypotheses[0].tokens, batched[i].hypotheses[0].tokens);
  }
}

// Sampling and diverse beams through the Summarizer: a document's samples depend on the seed and its index in the
// call (or its sampling stream), not on the batch it ran in; another seed gives other summaries; diverse groups
// give different hypotheses where plain beam search may repeat itself.
TEST(Summarizer, SamplingIsReproducibleAndIndependentOfTheBatching) {
  auto model = float64_model(9, /*copy=*/true);
  const std::vector<std::vector<int64_t>> docs = {random_document(40, 11), random_document(12, 12),
                                                  random_document(25, 13), random_document(33, 14)};
  GenerationOptions options;
  options.search.beam = 2;
  options.search.nbest = 2;
  options.search.max_len_b = 12;
  options.search.sampling = true;
  options.search.sampling_topk = 10;
  options.search.temperature = 1.3;
  options.search.seed = 3;
  const Summarizer summarizer(model, nullptr);
  const auto batched = summarizer.summarize_tokens(docs, options);
  GenerationOptions singles_options = options;
  singles_options.max_documents_per_batch = 1;
  const auto singles = summarizer.summarize_tokens(docs, singles_options);
  for (size_t i = 0; i < docs.size(); ++i) {
    ASSERT_EQ(batched[i].hypotheses.size(), 2u);
    // Alone in a call, the document samples from stream i when told so.
    GenerationOptions alone_options = options;
    alone_options.sampling_streams = {static_cast<int64_t>(i)};
    const auto alone = summarizer.summarize_tokens({docs[i]}, alone_options);
    for (size_t h = 0; h < 2; ++h) {
      EXPECT_EQ(singles[i].hypotheses[h].tokens, batched[i].hypotheses[h].tokens) << "doc " << i;
      EXPECT_EQ(alone[0].hypotheses[h].tokens, batched[i].hypotheses[h].tokens) << "doc " << i;
      EXPECT_NEAR(alone[0].hypotheses[h].score, batched[i].hypotheses[h].score, 1e-9);
    }
  }
  int differing = 0;
  for (int64_t seed : {4, 5}) {
    GenerationOptions other = options;
    other.search.seed = seed;
    const auto sampled = summarizer.summarize_tokens(docs, other);
    for (size_t i = 0; i < docs.size(); ++i)
      differing += sampled[i].hypotheses[0].tokens != batched[i].hypotheses[0].tokens;
  }
  EXPECT_GE(differing, 6) << "of 8 (seed, document) pairs";

  GenerationOptions diverse;
  diverse.search.beam = 4;
  diverse.search.nbest = 4;
  diverse.search.max_len_b = 8;
  diverse.search.diverse_beam_groups = 4;
  diverse.search.diverse_beam_strength = 100.0;
  for (const auto& result : summarizer.summarize_tokens(docs, diverse)) {
    ASSERT_EQ(result.hypotheses.size(), 4u);
    std::set<std::vector<int64_t>> distinct;
    for (const auto& h : result.hypotheses) distinct.insert(h.tokens);
    EXPECT_GE(distinct.size(), 3u);
  }
}

TEST(Summarizer, EmptyAndOverlongDocuments) {
  auto model = float64_model(6);
  GenerationOptions options;
  options.search.beam = 2;
  options.search.max_len_b = 5;
  const Summarizer summarizer(model, nullptr);
  auto results = summarizer.summarize_tokens({{}, random_document(100, 7)}, options);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].hypotheses.empty());
  EXPECT_EQ(results[0].source_tokens, 0);
  EXPECT_TRUE(results[1].truncated);  // 100 tokens > max_source_positions 64
  EXPECT_EQ(results[1].source_tokens, 64);
  EXPECT_FALSE(results[1].hypotheses.empty());
}

// GenerationOptions::search.cancelled stops a generation between decoding steps (beam and greedy) and between
// batches: the server cancels requests whose client left or whose deadline passed.
TEST(Summarizer, CancellationStopsBetweenStepsAndBatches) {
  auto model = float64_model(8);
  const Summarizer summarizer(model, nullptr);
  for (int64_t beam : {1, 3}) {
    SCOPED_TRACE("beam " + std::to_string(beam));
    GenerationOptions options;
    options.search.beam = beam;
    options.search.min_len = 20;
    options.search.max_len_b = 25;
    int calls = 0;
    options.search.cancelled = [&calls] { return ++calls > 3; };  // three steps run, then it is cancelled
    EXPECT_THROW(summarizer.summarize_tokens({random_document(30, 1)}, options), GenerationCancelled);
    EXPECT_EQ(calls, 4);                             // no step ran after the cancellation was seen
    options.search.cancelled = [] { return true; };  // before the first batch: nothing runs
    EXPECT_THROW(summarizer.summarize_tokens({random_document(30, 1), random_document(9, 2)}, options),
                 GenerationCancelled);
    options.search.cancelled = [] { return false; };  // never: the same summaries as without
    GenerationOptions plain = options;
    plain.search.cancelled = nullptr;
    EXPECT_EQ(summarizer.summarize_tokens({random_document(30, 1)}, options)[0].hypotheses[0].tokens,
              summarizer.summarize_tokens({random_document(30, 1)}, plain)[0].hypotheses[0].tokens);
  }
}

TEST(Summarizer, NeverChangesTheTrainEvalStateAndRefusesTrainingMode) {
  auto model = float64_model(7);
  const Summarizer summarizer(model, nullptr);
  GenerationOptions options;
  options.search.max_len_b = 4;
  model->train();
  EXPECT_THROW(summarizer.summarize_tokens({random_document(20, 1)}, options), std::logic_error);
  EXPECT_TRUE(model->is_training());
  model->eval();
  summarizer.summarize_tokens({random_document(20, 1)}, options);
  EXPECT_FALSE(model->is_training());
}

TEST(Summarizer, PoolingRecordsPerDocumentReproduceThePooledStates) {
  auto model = float64_model(8);
  GenerationOptions options;
  options.search.beam = 1;
  options.search.max_len_b = 3;
  options.return_pooling = true;
  const Summarizer summarizer(model, nullptr);
  auto docs = std::vector<std::vector<int64_t>>{random_document(40, 2), random_document(20, 3)};
  auto results = summarizer.summarize_tokens(docs, options);
  for (size_t i = 0; i < docs.size(); ++i) {
    ASSERT_EQ(results[i].pooling.size(), 2u) << "two pooling layers";
    // Each record holds only this document's real inputs, and its provenance re-runs the same top-k alone:
    // the mixing weights of the first layer applied to the layer's own inputs give the pooled states.
    const auto& first = results[i].pooling[0];
    EXPECT_EQ(first.scores.size(0), 1);
    EXPECT_EQ(first.scores.size(1), static_cast<int64_t>(docs[i].size()));
    EXPECT_TRUE(first.mask.all().item<bool>());
    auto weights = pooling_provenance(first);  // (1, out_len, n_in)
    EXPECT_EQ(weights.size(1), std::min<int64_t>(12, static_cast<int64_t>(docs[i].size())));
    // Rows sum to at most 1 (the operator mixes with zero padding).
    EXPECT_LE(weights.sum(-1).max().item<double>(), 1.0 + 1e-9);
    EXPECT_EQ(results[i].pooling[1].scores.size(1), weights.size(1));
  }
}

// A model file of tiny_config() with the fixture tokenizer, random weights from `seed`, loaded as a Summarizer.
Summarizer tokenizer_model(const data::SentencePieceTokenizer& tokenizer, const testing::TempDir& dir,
                           const std::string& name, uint64_t seed, bool source_sentence_separators = false) {
  auto config = tiny_config();
  config.vocab_size = tokenizer.vocab_size();
  config.max_source_positions = 96;
  config.source_sentence_separators = source_sentence_separators;
  torch::manual_seed(seed);
  SummarizationModel model(config);
  save_model_file(dir.file(name), model, tokenizer.serialized());
  return Summarizer::load(dir.file(name), {"cpu", "float32"});
}

// Source framing owned by the model: a model trained on `data prepare --source-sep` sources (sentences joined by
// <sep>) reads them so at inference. The Summarizer's encoding equals what prepare writes for validation, the model
// file keeps the flag, and the same document without the flag is encoded differently (so the test can fail).
TEST(Summarizer, ASourceSepModelEncodesSourcesAsPrepareDidForValidation) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  ASSERT_GE(tokenizer.sentence_separator_id(), 0) << "the fixture tokenizer has a <sep> piece";
  testing::TempDir dir;
  const Summarizer summarizer = tokenizer_model(tokenizer, dir, "sep.pt", 12, /*source_sentence_separators=*/true);
  ASSERT_TRUE(summarizer.config().source_sentence_separators);

  const std::vector<std::string> sentences = {"the cell cycle is regulated by cyclins .",
                                              "mutations in these genes cause cancer ."};
  // What `data prepare --source-sep` writes into valid.bin for this document (what validation decodes).
  data::PrepareOptions prepare;
  prepare.source_sentence_separators = true;
  prepare.max_source_length = 96;
  data::SummarizationExample example;
  example.source_sentences = sentences;
  example.target_sentences = {"cyclins ."};
  std::vector<int64_t> prepared, target;
  bool cut = false, target_cut = false;
  data::encode_example(tokenizer, example, prepare, prepared, target, cut, target_cut);
  ASSERT_NE(std::find(prepared.begin(), prepared.end(), tokenizer.sentence_separator_id()), prepared.end());

  GenerationOptions options;
  options.search.beam = 2;
  options.search.max_len_b = 6;
  bool truncated = true;
  EXPECT_EQ(summarizer.encode_source(sentences, options, truncated), prepared);
  EXPECT_FALSE(truncated);
  const auto through_text = summarizer.summarize_sentences({sentences}, options);
  const auto through_validation = summarizer.summarize_tokens({prepared}, options);
  ASSERT_FALSE(through_text[0].hypotheses.empty());
  EXPECT_EQ(through_text[0].hypotheses[0].tokens, through_validation[0].hypotheses[0].tokens);
  EXPECT_EQ(through_text[0].hypotheses[0].score, through_validation[0].hypotheses[0].score);

  // The same weights without the flag read another sequence (spaces instead of <sep>).
  const Summarizer plain = tokenizer_model(tokenizer, dir, "plain.pt", 12);
  EXPECT_NE(plain.encode_source(sentences, options, truncated), prepared);
}

// A model file with a real tokenizer: text in, text out, from four threads at once on one loaded model.
TEST(Summarizer, FourThreadsOnOneModelGiveTheSameSummariesAsOne) {
  PYRAMIDION_REQUIRE_SMALL_TOKENIZER();
  testing::TempDir dir;
  const Summarizer summarizer = tokenizer_model(tokenizer, dir, "model.pt", 11);
  EXPECT_EQ(summarizer.special_tokens().unk, tokenizer.unk_id());
  EXPECT_FALSE(summarizer.model()->is_training());

  const std::vector<std::string> documents = {
      "the cell cycle is regulated by cyclins . mutations in these genes cause cancer .",
      "patients were randomized to two groups and followed for five years .", "   ",
      "we measured the expression of the protein in mice and found that it increased with age , "
      "which suggests a role in ageing . further work is needed to confirm the result in humans ."};
  GenerationOptions options;
  options.search.beam = 3;
  options.search.max_len_b = 8;
  options.max_documents_per_batch = 2;
  const auto reference = summarizer.summarize(documents, options);
  ASSERT_EQ(reference.size(), documents.size());
  EXPECT_TRUE(reference[2].hypotheses.empty());
  for (size_t i : {0u, 1u, 3u}) {
    ASSERT_FALSE(reference[i].hypotheses.empty());
    EXPECT_EQ(reference[i].hypotheses[0].text, tokenizer.decode(reference[i].hypotheses[0].tokens));
  }

  std::vector<std::vector<DocumentSummary>> outputs(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < outputs.size(); ++t)
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 2; ++repeat) outputs[t] = summarizer.summarize(documents, options);
    });
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < outputs.size(); ++t) {
    ASSERT_EQ(outputs[t].size(), reference.size());
    for (size_t i = 0; i < reference.size(); ++i) {
      ASSERT_EQ(outputs[t][i].hypotheses.size(), reference[i].hypotheses.size());
      for (size_t h = 0; h < reference[i].hypotheses.size(); ++h) {
        EXPECT_EQ(outputs[t][i].hypotheses[h].tokens, reference[i].hypotheses[h].tokens) << "thread " << t;
        EXPECT_EQ(outputs[t][i].hypotheses[h].text, reference[i].hypotheses[h].text);
        EXPECT_EQ(outputs[t][i].hypotheses[h].score, reference[i].hypotheses[h].score);
      }
    }
  }
}

TEST(Summarizer, LoadErrorsNameTheFileOrTheOption) {
  testing::TempDir dir;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { Summarizer::load(dir.file("none.pt")); }).find("none.pt: no such model file"),
            std::string::npos);
  EXPECT_NE(message([&] {
              Summarizer::load(dir.file("none.pt"), {"tpu", "float32"});
            }).find("device tpu"),
            std::string::npos);
  EXPECT_NE(message([&] {
              Summarizer::load(dir.file("none.pt"), {"cpu", "int8"});
            }).find("dtype int8"),
            std::string::npos);
}

}  // namespace
}  // namespace pyramidion

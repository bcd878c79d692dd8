// The highlight view (explain/highlight.h, highlight_page.h): shares sum as documented per layer, words follow
// the text, the summary's words link to source sentences, batched equals one by one, the page is
// self-contained; on the demo's synthetic corpus the page gives the salient sentences the share of the memory
// the demo's pooling report measures (salient-dominated slots), for a probe-fitted scorer and for a random one,
// and the better scorer ranks more salient sentences first.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "../data/temp_dir.h"
#include "../data/tokenizer_fixture.h"
#include "../server/tiny_model.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/synthetic_corpus.h"
#include "pyramidion/data/synthetic_encoding.h"
#include "pyramidion/explain/highlight.h"
#include "pyramidion/explain/highlight_page.h"
#include "pyramidion/nn/pooling_report.h"
#include "tiny_bpe.h"

namespace pyramidion {
namespace {

const Summarizer& tiny_summarizer() {
  static testing::TempDir dir;
  static const Summarizer summarizer = [] {
    const std::string path = dir.file("tiny.pt");
    testing::write_tiny_model(path, dir.path());
    return Summarizer::load(path, {"cpu", "float64"});  // float64: the sums below hold to 1e-9
  }();
  return summarizer;
}

// "" when a and b are equal, numbers to `tolerance`; else the path of the first difference.
std::string json_difference(const nlohmann::json& a, const nlohmann::json& b, double tolerance,
                            const std::string& at = "") {
  if (a.is_number() && b.is_number())
    return std::abs(a.get<double>() - b.get<double>()) <= tolerance ? "" : at + ": " + a.dump() + " vs " + b.dump();
  if (a.type() != b.type() || a.size() != b.size())
    return at + ": " + a.dump().substr(0, 200) + " vs " + b.dump().substr(0, 200);
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) return at + "/" + it.key() + ": missing";
      auto d = json_difference(it.value(), b[it.key()], tolerance, at + "/" + it.key());
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      auto d = json_difference(a[i], b[i], tolerance, at + "/" + std::to_string(i));
      if (!d.empty()) return d;
    }
    return "";
  }
  return a == b ? "" : at + ": " + a.dump() + " vs " + b.dump();
}

HighlightOptions short_summaries() {
  HighlightOptions o;
  o.generation.search.beam = 2;
  o.generation.search.max_len_b = 12;
  o.generation.search.min_len = 3;
  return o;
}

void expect_consistent(const DocumentHighlight& h) {
  ASSERT_FALSE(h.layers.empty());
  for (size_t l = 0; l < h.layers.size(); ++l) {
    SCOPED_TRACE("layer " + std::to_string(l));
    double tokens = 0, words = 0, sentences = 0;
    for (const auto& t : h.tokens) tokens += t.shares[l];
    for (const auto& w : h.words) words += w.shares[l];
    for (const auto& s : h.sentences) sentences += s.shares[l];
    EXPECT_NEAR(tokens + h.layers[l].padding_share, 1.0, 1e-9);
    EXPECT_NEAR(words + h.layers[l].end_of_document_share + h.layers[l].padding_share, 1.0, 1e-9);
    EXPECT_NEAR(sentences, words, 1e-12);
  }
  // The ranking orders sentences by their last-layer share.
  for (size_t r = 1; r < h.ranking.size(); ++r)
    EXPECT_GE(h.sentences[h.ranking[r - 1]].shares.back(), h.sentences[h.ranking[r]].shares.back());
  for (size_t r = 0; r < h.ranking.size(); ++r) EXPECT_EQ(h.sentences[h.ranking[r]].rank, static_cast<int64_t>(r));
}

TEST(Highlight, SharesSumAsDocumentedAndWordsFollowTheText) {
  const auto& summarizer = tiny_summarizer();
  const std::string text =
      testing::tiny_document(7, 20) + " . " + testing::tiny_document(8, 15) + " !\n" + testing::tiny_document(9, 12);
  DocumentHighlight h = highlight_document(summarizer, {text}, short_summaries());
  expect_consistent(h);
  EXPECT_TRUE(h.words_aligned);
  EXPECT_EQ(h.layers.size(), 2u);
  EXPECT_EQ(h.layers[0].width, 12);
  EXPECT_EQ(h.layers[1].width, 6);
  ASSERT_EQ(h.sentences.size(), 3u);  // after " .", after " !", then the line break
  EXPECT_EQ(h.sentences[0].words, 21);
  EXPECT_EQ(h.sentences[1].words, 16);
  EXPECT_EQ(h.sentences[2].words, 12);
  EXPECT_EQ(h.words.size(), 49u);
  EXPECT_EQ(h.words[0].text, split_sentences(text)[0].substr(0, h.words[0].text.size()));
  EXPECT_EQ(h.source_tokens, 50);  // one piece per word (word model) + EOS
  EXPECT_EQ(h.tokens.size(), 50u);
  // The summary, its words linked to sentences with shares of their cross-attention mass.
  ASSERT_FALSE(h.summary.empty());
  ASSERT_FALSE(h.summary_words.empty());
  for (const auto& w : h.summary_words) {
    ASSERT_FALSE(w.sources.empty()) << w.text;
    double total = 0;
    for (const auto& s : w.sources) {
      EXPECT_GE(s.sentence, 0);
      EXPECT_LT(s.sentence, 3);
      total += s.share;
    }
    EXPECT_LE(total, 1.0 + 1e-9);
    for (size_t k = 1; k < w.sources.size(); ++k) EXPECT_GE(w.sources[k - 1].share, w.sources[k].share);
  }
  // JSON: the same numbers.
  auto j = highlight_json(h);
  EXPECT_EQ(j["words"].size(), 49u);
  EXPECT_EQ(j["tokens"].size(), 50u);
  EXPECT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["sentences"][0]["shares"][1].get<double>(), h.sentences[0].shares[1]);
  EXPECT_EQ(j["ranking"].get<std::vector<int64_t>>(), h.ranking);
  EXPECT_FALSE(highlight_json(h, false).contains("tokens"));
}

TEST(Highlight, CrossAttentionRowsAreDistributionsOverTheMemory) {
  const auto& summarizer = tiny_summarizer();
  GenerationOptions g = short_summaries().generation;
  g.return_cross_attention = true;
  auto results = summarizer.summarize({testing::tiny_document(3, 40)}, g);
  ASSERT_TRUE(results[0].cross_attention.defined());
  const auto& a = results[0].cross_attention;
  EXPECT_EQ(a.size(0), static_cast<int64_t>(results[0].hypotheses[0].tokens.size()));
  EXPECT_EQ(a.size(1), 6);  // the last pooler's width
  EXPECT_LT((a.sum(1) - 1).abs().max().item<double>(), 1e-5);
  // Off by default: nothing computed.
  EXPECT_FALSE(
      summarizer.summarize({testing::tiny_document(3, 40)}, short_summaries().generation)[0].cross_attention.defined());
}

// A copy-attention model: every summary word carries the share copied (1 - p_gen of its piece: the tokenizer is
// word-level, one piece per word), links come from the pointing distribution (rows sum to 1), the JSON and the
// page carry them; a model without copy attention has no "copied" field.
TEST(Highlight, CopyAttentionModelsMarkWhatWasCopied) {
  static testing::TempDir dir;
  const std::string path = dir.file("tiny-copy.pt");
  testing::write_tiny_model(path, dir.path(), 64, /*copy_attention=*/true);
  const Summarizer summarizer = Summarizer::load(path, {"cpu", "float64"});
  GenerationOptions g = short_summaries().generation;
  g.return_cross_attention = true;
  const std::vector<std::string> doc = {testing::tiny_document(5, 40)};
  auto results = summarizer.summarize(doc, g);
  ASSERT_FALSE(results[0].hypotheses[0].tokens.empty());
  ASSERT_TRUE(results[0].copy_gate.defined());
  const auto& gate = results[0].copy_gate;
  EXPECT_EQ(gate.size(0), static_cast<int64_t>(results[0].hypotheses[0].tokens.size()));
  EXPECT_GT(gate.min().item<double>(), 0.0);
  EXPECT_LT(gate.max().item<double>(), 1.0);
  EXPECT_LT((results[0].cross_attention.sum(1) - 1).abs().max().item<double>(), 1e-5);
  HighlightOptions options = short_summaries();
  DocumentHighlight h = highlight_document(summarizer, doc, options);
  ASSERT_EQ(h.summary_words.size(), static_cast<size_t>(gate.size(0)));
  for (size_t i = 0; i < h.summary_words.size(); ++i)
    EXPECT_NEAR(h.summary_words[i].copied, 1.0 - gate[static_cast<int64_t>(i)].item<double>(), 1e-6) << i;
  const nlohmann::json json = highlight_json(h);
  EXPECT_TRUE(json["summary_words"][0].contains("copied"));
  EXPECT_NE(highlight_page_html(h).find("hl-copied"), std::string::npos);
  EXPECT_FALSE(
      highlight_json(highlight_document(tiny_summarizer(), doc, options))["summary_words"][0].contains("copied"));
}

TEST(Highlight, BatchedEqualsOneByOneAndEqualsTheSummarysPath) {
  const auto& summarizer = tiny_summarizer();
  std::vector<std::vector<std::string>> docs = {{testing::tiny_document(1, 50)},
                                                {testing::tiny_document(2, 9)},
                                                {"alpha bravo .", "charlie delta echo .", "foxtrot"}};
  auto batched = highlight_documents(summarizer, docs, short_summaries());
  ASSERT_EQ(batched.size(), 3u);
  for (size_t d = 0; d < docs.size(); ++d) {
    SCOPED_TRACE("document " + std::to_string(d));
    auto alone = highlight_document(summarizer, docs[d], short_summaries());
    // Batch padding changes the encoder's float64 sums in the last bits only.
    EXPECT_EQ(json_difference(highlight_json(alone), highlight_json(batched[d]), 1e-12), "");
    // The server's path: summaries from the Summarizer, then highlight_summary.
    GenerationOptions g = short_summaries().generation;
    g.return_pooling = g.return_cross_attention = true;
    auto summary = docs[d].size() == 1 ? summarizer.summarize({docs[d][0]}, g)[0]
                                       : summarizer.summarize_sentences({docs[d]}, g)[0];
    EXPECT_EQ(json_difference(highlight_json(highlight_summary(summarizer, docs[d], summary, short_summaries())),
                              highlight_json(alone), 1e-12),
              "");
  }
  EXPECT_EQ(batched[2].sentences.size(), 3u);  // a list of sentences is taken as given
  EXPECT_THROW(highlight_document(summarizer, {"  \n "}, short_summaries()), std::invalid_argument);
}

TEST(Highlight, TruncatedDocumentsMarkTheWordsNeverRead) {
  const auto& summarizer = tiny_summarizer();  // 64 source positions
  DocumentHighlight h = highlight_document(summarizer, {testing::tiny_document(4, 100)}, short_summaries());
  EXPECT_TRUE(h.truncated);
  EXPECT_EQ(h.source_tokens, 64);
  ASSERT_EQ(h.words.size(), 100u);
  EXPECT_EQ(h.words[62].first_token, 62);
  EXPECT_EQ(h.words[63].first_token, -1);
  EXPECT_EQ(h.words[99].shares, std::vector<double>(2, 0.0));
  expect_consistent(h);
}

TEST(Highlight, SubwordPiecesJoinBackToTheTextsWords) {
  auto* small = testing::small_tokenizer();
  if (!small) GTEST_SKIP() << "../shared absent";
  ModelConfig c;
  c.vocab_size = small->tokenizer->vocab_size();
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.chunk_size = 16;
  c.pooling.schedule = {{0, 16}};
  c.max_source_positions = 256;
  c.max_target_positions = 16;
  torch::manual_seed(2);
  SummarizationModel model(c);
  model->to(torch::kDouble);
  model->eval();
  Summarizer summarizer(model, std::make_shared<const data::SentencePieceTokenizer>(*small->tokenizer));
  const std::vector<std::string> sentences = {"the cyclin-dependent kinases regulate mitosis .",
                                              "immunohistochemistry showed overexpression in 37 % of tumours ."};
  DocumentHighlight h = highlight_document(summarizer, sentences, short_summaries());
  EXPECT_TRUE(h.words_aligned);
  ASSERT_EQ(h.words.size(), 15u);
  EXPECT_EQ(h.words[1].text, "cyclin-dependent");
  EXPECT_EQ(h.words[6].text, "immunohistochemistry");
  EXPECT_GT(h.words[6].tokens, 1);  // several pieces
  EXPECT_EQ(h.words[6].sentence, 1);
  int64_t tokens = 0;
  for (const auto& w : h.words) tokens += w.tokens;
  EXPECT_EQ(tokens + 1, h.source_tokens);  // every piece but EOS belongs to a word
  expect_consistent(h);
}

// An imported BART's tokenizer (GPT-2 byte-level BPE): a word's pieces start with "Ġ" (the space byte) rather than
// SentencePiece's U+2581, and the first word of the text has none. The words are still the text's, each owning its
// pieces, and the shares sum as with SentencePiece.
TEST(Highlight, ByteLevelBpeWordsAreTheTextsWordsAndSharesSum) {
  testing::TempDir dir;
  const auto bpe = std::make_shared<const data::Tokenizer>(testing::tiny_bpe_tokenizer(dir.path()));
  ModelConfig c;
  c.vocab_size = bpe->vocab_size();
  c.pad_id = bpe->pad_id();  // BART's: <s> 0, <pad> 1, </s> 2
  c.bos_id = bpe->bos_id();
  c.eos_id = bpe->eos_id();
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 2;
  c.decoder_layers = 1;
  c.chunk_size = 16;
  c.pooling.schedule = {{0, 16}, {1, 8}};
  c.max_source_positions = 256;
  c.max_target_positions = 16;
  torch::manual_seed(3);
  SummarizationModel model(c);
  model->to(torch::kDouble);
  model->eval();
  const Summarizer summarizer(model, bpe);
  const std::string first = "alpha bravo charlie, echo india-delta alpha.", second = "Bravo echo (alpha) 42 delta!";
  DocumentHighlight h = highlight_document(summarizer, {first + " " + second}, short_summaries());
  EXPECT_TRUE(h.words_aligned);
  std::vector<std::string> words;
  for (const auto& w : h.words) words.push_back(w.text);
  EXPECT_EQ(words, (std::vector<std::string>{"alpha", "bravo", "charlie,", "echo", "india-delta", "alpha.", "Bravo",
                                             "echo", "(alpha)", "42", "delta!"}));
  ASSERT_EQ(h.sentences.size(), 2u);
  EXPECT_EQ(h.sentences[0].text, first);
  EXPECT_EQ(h.sentences[0].words, 6);
  EXPECT_EQ(h.words[6].sentence, 1);
  const std::string g = "\xC4\xA0";
  int64_t tokens = 0;
  for (size_t i = 0; i < h.words.size(); ++i) {
    const auto& w = h.words[i];
    ASSERT_GT(w.tokens, 0) << w.text;
    // The word's first piece carries the space before it (none for the first word), the others do not.
    EXPECT_EQ(h.tokens[w.first_token].piece.rfind(g, 0) == 0, i > 0) << w.text;
    for (int64_t k = 1; k < w.tokens; ++k) EXPECT_NE(h.tokens[w.first_token + k].piece.rfind(g, 0), 0u) << w.text;
    for (int64_t k = 0; k < w.tokens; ++k) EXPECT_EQ(h.tokens[w.first_token + k].word, static_cast<int64_t>(i));
    tokens += w.tokens;
  }
  EXPECT_GT(h.words[0].tokens, 1);         // "alpha": a, lp, ha joined by the merges
  EXPECT_EQ(h.words[1].tokens, 1);         // " bravo": one merged piece
  EXPECT_EQ(tokens + 1, h.source_tokens);  // every piece but EOS belongs to a word
  EXPECT_EQ(h.source_tokens, static_cast<int64_t>(bpe->encode(first + " " + second).size()) + 1);
  expect_consistent(h);
}

TEST(Highlight, AModelWithoutPoolingLayersPoolsNothing) {
  ModelConfig c;
  c.vocab_size = tiny_summarizer().config().vocab_size;
  c.d_model = 16;
  c.attention_heads = 2;
  c.ffn_dim = 24;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.max_source_positions = 64;
  c.max_target_positions = 16;
  torch::manual_seed(3);
  SummarizationModel model(c);
  model->eval();
  auto tok = std::make_shared<const data::SentencePieceTokenizer>(tiny_summarizer().tokenizer().sentencepiece());
  Summarizer summarizer(model, tok);
  DocumentHighlight h = highlight_document(summarizer, {testing::tiny_document(5, 20)}, short_summaries());
  EXPECT_TRUE(h.layers.empty());
  EXPECT_EQ(h.words.size(), 20u);
  EXPECT_TRUE(h.words[0].shares.empty());
  EXPECT_FALSE(highlight_json(h)["pooled"].get<bool>());
  // The summary's links still come from the cross-attention (memory = every token).
  ASSERT_FALSE(h.summary_words.empty());
  EXPECT_FALSE(h.summary_words[0].sources.empty());
  EXPECT_NE(highlight_page_html(h).find("nothing pooled"), std::string::npos);
}

TEST(HighlightPage, IsSelfContainedAndCarriesTheData) {
  DocumentHighlight h =
      highlight_document(tiny_summarizer(), {"alpha </script> bravo .", "charlie"}, short_summaries());
  HighlightPageOptions o;
  o.title = "t <b>";
  const std::string page = highlight_page_html(h, o);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("t &lt;b&gt;"), std::string::npos);
  // The word "</script>" cannot close the data block early.
  const auto open = page.find("id=\"highlight-data\">");
  ASSERT_NE(open, std::string::npos);
  const auto close = page.find("</script>", open);
  const std::string data = page.substr(open + 20, close - open - 20);
  auto parsed = nlohmann::json::parse(data);
  EXPECT_EQ(parsed["words"][1]["text"], "</script>");
  EXPECT_EQ(parsed["words"].size(), 5u);
}

TEST(HighlightSentences, SplitAfterSentenceEndsAndLineBreaks) {
  EXPECT_EQ(split_sentences("One two. Three (four!) five?\" six\n\nseven  eight"),
            (std::vector<std::string>{"One two.", "Three (four!)", "five?\"", "six", "seven eight"}));
  EXPECT_TRUE(split_sentences(" \n ").empty());
}

// --- the demo's synthetic corpus ----------------------------------------------------------------------------

struct SalientSetup {
  testing::TempDir dir;
  std::shared_ptr<const data::SentencePieceTokenizer> tokenizer;
  data::SyntheticCorpus corpus{[] {
    data::SyntheticCorpusOptions o;
    o.min_words = 120;
    o.max_words = 200;
    return o;
  }()};
};

SalientSetup& salient_setup() {
  static SalientSetup* s = [] {
    auto* made = new SalientSetup;  // lives for the test binary (TempDir must not be copied)
    SalientSetup& setup = *made;
    const auto vocabulary = setup.corpus.vocabulary();
    const std::string text = setup.dir.file("text.txt");
    {
      std::ofstream out(text);  // as the demo trains its tokenizer: the vocabulary, then documents
      for (size_t i = 0; i < vocabulary.size(); ++i) out << (i ? " " : "") << vocabulary[i];
      out << "\n";
      for (int64_t i = 0; i < 200; ++i)
        for (const auto& s : setup.corpus.document("train", 1000 + i).sentences) out << s << "\n";
    }
    data::TokenizerTrainOptions t;
    t.input_files = {text};
    t.model_type = "word";
    t.vocab_size = static_cast<int>(vocabulary.size()) + 5;
    t.threads = 1;
    setup.tokenizer = std::make_shared<const data::SentencePieceTokenizer>(data::SentencePieceTokenizer::train(t));
    return made;
  }();
  return *s;
}

ModelConfig synthetic_config(int64_t vocab, bool pooled) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.d_model = 32;
  c.attention_heads = 2;
  c.ffn_dim = 48;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.chunk_size = 32;
  if (pooled) c.pooling.schedule = {{0, 24}};
  c.max_source_positions = 256;
  c.max_target_positions = 16;
  return c;
}

// The rate at which each document's top-m sentences (m = its salient passages) are salient, and the pooling
// report on the same model and documents.
struct Rates {
  double page = 0;          // top-m sentences that are salient
  double salient_mass = 0;  // the page's share of the final memory in salient sentences (mean over documents)
  PoolingReport report;
};

Rates measure(const Summarizer& summarizer, const std::vector<data::SyntheticDocument>& docs) {
  const auto& tok = summarizer.tokenizer().sentencepiece();
  PoolingReportAccumulator accumulator;
  HighlightOptions options;
  options.generation.search.beam = 1;
  options.generation.search.max_len_b = 4;
  std::vector<std::vector<std::string>> sentences;
  for (const auto& d : docs) sentences.push_back(d.sentences);
  auto highlights = highlight_documents(summarizer, sentences, options);
  double hits = 0, wanted = 0, mass = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto& doc = docs[i];
    const auto& h = highlights[i];
    // The report, exactly as the demo computes it: its encoding (classes per token, EOS filler).
    const auto encoded = data::encode_synthetic_document(tok, doc);
    const std::vector<int64_t>& source = encoded.source;
    const std::vector<int64_t>& classes = encoded.classes;
    EXPECT_EQ(static_cast<int64_t>(source.size()), h.source_tokens);
    {
      c10::InferenceMode inference;
      auto s = torch::tensor(source, torch::kLong).unsqueeze(0);
      auto mask = torch::ones_like(s, torch::kBool);
      accumulator.add(summarizer.model()->encode(s, mask), torch::tensor(classes, torch::kLong).unsqueeze(0), mask);
    }
    // Salient sentences: those whose words are salient (the cue-marked passages).
    std::set<int64_t> salient;
    int64_t word = 0;
    for (size_t s = 0; s < doc.sentences.size(); ++s) {
      if (doc.classes[static_cast<size_t>(word)] == data::TokenClass::kSalient) salient.insert(static_cast<int64_t>(s));
      word += h.sentences[s].words;
    }
    for (size_t r = 0; r < salient.size(); ++r) hits += salient.count(h.ranking[r]);
    for (int64_t s : salient)
      mass += h.sentences[static_cast<size_t>(s)].shares.back() / static_cast<double>(docs.size());
    wanted += static_cast<double>(salient.size());
  }
  return {hits / wanted, mass, accumulator.result()};
}

TEST(HighlightSalient, TopRankedSentencesAreTheSalientOnesAtTheReportsRate) {
  auto& setup = salient_setup();
  const int64_t vocab = setup.tokenizer->vocab_size();
  std::vector<data::SyntheticDocument> train, test;
  for (int64_t i = 0; i < 30; ++i) train.push_back(setup.corpus.document("train", i));
  for (int64_t i = 0; i < 16; ++i) test.push_back(setup.corpus.document("test", i));

  // A model whose scorer has learned the salient tokens: a linear probe (Fisher's discriminant) fitted on the
  // states the pooler sees, taken from the same weights without the pooler (encoder_layers = 1).
  torch::manual_seed(21);
  SummarizationModel pooled(synthetic_config(vocab, true));
  SummarizationModel unpooled(synthetic_config(vocab, false));
  {
    torch::NoGradGuard no_grad;
    auto target = unpooled->named_parameters();
    for (const auto& p : pooled->named_parameters())
      if (target.contains(p.key())) target[p.key()].copy_(p.value());
  }
  pooled->eval();
  unpooled->eval();
  std::vector<torch::Tensor> salient_states, other_states;
  for (const auto& doc : train) {
    std::vector<int64_t> ids;
    for (const auto& w : doc.words) ids.push_back(setup.tokenizer->encode(w).at(0));
    ids.push_back(setup.tokenizer->eos_id());
    c10::InferenceMode inference;
    auto s = torch::tensor(ids, torch::kLong).unsqueeze(0);
    auto states = unpooled->encode(s, torch::ones_like(s, torch::kBool)).states[0];  // (n, 32)
    for (size_t w = 0; w < doc.words.size(); ++w)
      (doc.classes[w] == data::TokenClass::kSalient ? salient_states : other_states)
          .push_back(states[static_cast<int64_t>(w)].to(torch::kDouble));
  }
  torch::Tensor xs = torch::stack(salient_states), xo = torch::stack(other_states);  // (count, 32)
  torch::Tensor mu_s = xs.mean(0), mu_o = xo.mean(0);
  torch::Tensor centered = torch::cat({xs - mu_s, xo - mu_o});
  torch::Tensor covariance = centered.t().matmul(centered) / centered.size(0) + 1e-3 * torch::eye(32, torch::kDouble);
  torch::Tensor w = torch::linalg_solve(covariance, (mu_s - mu_o).unsqueeze(1)).squeeze(1);
  // Scaled so the class means sit at logits +6 and -6.
  const double gap = (mu_s - mu_o).dot(w).item<double>();
  w = w * (12.0 / gap);
  const double bias = -((mu_s + mu_o) / 2).dot(w).item<double>();
  {
    torch::NoGradGuard no_grad;
    auto params = pooled->named_parameters();
    params["pooler_after_layer_0.scorer.weight"].copy_(w.to(torch::kFloat).unsqueeze(0));
    params["pooler_after_layer_0.scorer.bias"].fill_(bias);
  }
  Rates learned = measure(Summarizer(pooled, setup.tokenizer), test);

  // The same model with a random scorer.
  torch::manual_seed(22);
  SummarizationModel random_model(synthetic_config(vocab, true));
  random_model->eval();
  Rates random = measure(Summarizer(random_model, setup.tokenizer), test);

  std::cerr << "learned: page top-m salient " << learned.page << ", salient sentences' share " << learned.salient_mass
            << "; report salient share " << learned.report.salient_share << " (ceiling " << learned.report.ceiling
            << ", base rate " << learned.report.base_rate << "), salient recall " << learned.report.recall[1]
            << "\nrandom: page top-m salient " << random.page << ", salient sentences' share " << random.salient_mass
            << "; report salient share " << random.report.salient_share << ", salient recall "
            << random.report.recall[1] << "\n";
  // The report measures the share of final slots dominated by salient tokens; the page gives the salient
  // sentences the share of the memory made of them. Soft top-k slots are dominated by one input, so the two
  // agree, for the probe-fitted scorer and for the random one; and the better scorer ranks more salient
  // sentences first.
  EXPECT_NEAR(learned.salient_mass, learned.report.salient_share, 0.05);
  EXPECT_NEAR(random.salient_mass, random.report.salient_share, 0.05);
  EXPECT_GT(learned.report.salient_share, random.report.salient_share);
  EXPECT_GT(learned.salient_mass, random.salient_mass);
  EXPECT_GE(learned.page, random.page);
}

}  // namespace
}  // namespace pyramidion

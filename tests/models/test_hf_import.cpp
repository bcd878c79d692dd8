// Hugging Face BART / PEGASUS import (models/hf_import.h) against an independent reference forward in plain
// PyTorch (tests/interop/hf_reference.py, run with Debian's /usr/bin/python3 and python3-torch), on offline
// checkpoints with the exact HF key layout, shapes and file formats and random weights.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "data/byte_level_pretokenizer.h"
#include "pegasus_spiece.h"
#include "pyramidion/data/any_tokenizer.h"
#include "pyramidion/data/binary_dataset.h"
#include "pyramidion/data/prepare.h"
#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/models/fairseq_import.h"
#include "pyramidion/models/hf_checkpoint.h"
#include "pyramidion/models/hf_config.h"
#include "pyramidion/models/hf_import.h"
#include "pyramidion/models/long_input_conversion.h"
#include "pyramidion/models/model_file.h"
#include "pyramidion/util/safetensors.h"
#include "test_support.h"

namespace pyramidion {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

bool python_torch_available() {
  static const bool available =
      fs::exists(kPython) && std::system((std::string(kPython) + " -c 'import torch, numpy' 2>/dev/null").c_str()) == 0;
  return available;
}

// A fresh folder per (arch, format) under the test's temporary directory, made by the reference script.
std::string make_checkpoint(const std::string& arch, const std::string& format, const std::string& name = "",
                            const std::string& extra_args = "") {
  const fs::path dir =
      fs::temp_directory_path() / ("pyramidion_hf_" + std::to_string(::getpid()) + "_" + arch + "_" + format + name);
  fs::remove_all(dir);
  const std::string script = (fs::path(PYRAMIDION_SOURCE_DIR) / "tests/interop/hf_reference.py").string();
  const std::string command = std::string(kPython) + " " + script + " make --arch " + arch + " --format " + format +
                              " --out " + dir.string() + extra_args;
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  return dir.string();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

torch::Tensor long_tensor(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& v : row) flat.push_back(v.get<int64_t>());
  return torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

struct Expected {
  torch::Tensor source, mask, target_in, logits, greedy, greedy_logits;
  int64_t steps = 0;
};

Expected read_expected(const std::string& dir) {
  const nlohmann::json j = read_json(dir + "/expected.json");
  Expected e;
  e.source = long_tensor(j["source"]);
  e.mask = long_tensor(j["source_mask"]).to(torch::kBool);
  e.target_in = long_tensor(j["target_in"]);
  e.logits = torch::tensor(j["logits"].get<std::vector<float>>()).view(j["logits_shape"].get<std::vector<int64_t>>());
  e.greedy = long_tensor(j["greedy"]);
  e.steps = j["greedy_steps"].get<int64_t>();
  e.greedy_logits = torch::tensor(j["greedy_logits"].get<std::vector<float>>()).view({e.greedy.size(0), e.steps, -1});
  return e;
}

// Greedy decoding through the incremental path (start_decoding / decode_step): (batch, steps) tokens;
// *step_logits (batch, steps, vocab) each step's logits.
torch::Tensor greedy(SummarizationModelImpl& model, const torch::Tensor& source, const torch::Tensor& mask,
                     int64_t steps, torch::Tensor* step_logits = nullptr) {
  torch::NoGradGuard no_grad;
  DecoderCache cache = model.start_decoding(model.encode(source, mask));
  torch::Tensor tokens = torch::full({source.size(0)}, model.config().decoder_start(), torch::kLong);
  std::vector<torch::Tensor> out, logits;
  for (int64_t i = 0; i < steps; ++i) {
    logits.push_back(model.decode_step(tokens, cache));  // (batch, vocab)
    tokens = logits.back().argmax(-1);
    out.push_back(tokens);
  }
  if (step_logits) *step_logits = torch::stack(logits, 1);
  return torch::stack(out, 1);
}

torch::Tensor logits_of(SummarizationModelImpl& model, const Expected& e) {
  torch::NoGradGuard no_grad;
  return model.forward(e.source, e.mask, e.target_in);
}

void expect_matches_reference(SummarizationModelImpl& model, const Expected& e) {
  const torch::Tensor logits = logits_of(model, e);
  ASSERT_EQ(logits.sizes(), e.logits.sizes());
  // Padded query rows are compared too: the decoder has no padding in these targets.
  EXPECT_LE((logits - e.logits).abs().max().item<double>(), 1e-5);
  torch::Tensor step_logits;
  const torch::Tensor tokens = greedy(model, e.source, e.mask, e.steps, &step_logits);
  EXPECT_TRUE(torch::equal(tokens, e.greedy)) << tokens << "\nvs\n" << e.greedy;
  // The incremental path's logits at every greedy step (random weights make greedy outputs repetitive).
  EXPECT_LE((step_logits - e.greedy_logits).abs().max().item<double>(), 1e-5);
}

struct Case {
  std::string arch, format;
};

class HfImport : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!python_torch_available()) GTEST_SKIP() << kPython << " with torch and numpy is needed for the reference";
  }
};

TEST_P(HfImport, LogitsAndGreedyMatchTheReferenceBeforeAndAfterLongInputConversion) {
  const std::string dir = make_checkpoint(GetParam().arch, GetParam().format);
  const Expected e = read_expected(dir);
  const bool fairseq = GetParam().format == "fairseq";
  ImportedModel imported = fairseq ? import_fairseq_checkpoint(dir + "/checkpoint.pt") : import_hf_checkpoint(dir);
  EXPECT_EQ(imported.architecture, GetParam().arch);
  // BART frames sources and targets with <s> (HF: tokenizer + forced_bos_token_id; fairseq: encode + prefix token).
  const bool bart = GetParam().arch == "bart" || GetParam().arch == "fairseq_bart";
  EXPECT_EQ(imported.model->config().source_bos, bart);
  EXPECT_EQ(imported.model->config().target_bos, bart);
  expect_matches_reference(*imported.model, e);

  // 4x the positions, full attention, no pooling: the same model on inputs within the original length.
  LongInputOptions longer;
  longer.max_source_positions = 4 * imported.model->config().max_source_positions;
  SummarizationModel converted = convert_to_long_input(*imported.model, longer);
  EXPECT_EQ(converted->config().max_source_positions, longer.max_source_positions);
  if (imported.model->config().position_embeddings == PositionEmbeddings::learned) {
    // LED: the trained rows repeated after the offset rows.
    const torch::Tensor before = *imported.model->named_parameters().find("encoder_positions.weight");
    const torch::Tensor after = *converted->named_parameters().find("encoder_positions.weight");
    const int64_t trained = before.size(0) - kLearnedPositionOffset;
    ASSERT_EQ(after.size(0), 4 * trained + kLearnedPositionOffset);
    for (int64_t copy = 0; copy < 4; ++copy)
      EXPECT_TRUE(torch::equal(after.narrow(0, kLearnedPositionOffset + copy * trained, trained),
                               before.narrow(0, kLearnedPositionOffset, trained)));
  }
  expect_matches_reference(*converted, e);
  // Blockwise attention with blocks holding the whole input: still the same.
  longer.chunk_size = 16;
  expect_matches_reference(*convert_to_long_input(*imported.model, longer), e);
  // Pooling on: inputs no longer than the widths pass through the poolers unchanged.
  longer.pooling = {{0, 16}, {1, 12}};
  expect_matches_reference(*convert_to_long_input(*imported.model, longer), e);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Layouts, HfImport,
                         ::testing::Values(Case{"bart", "safetensors"}, Case{"bart", "bin"},
                                           Case{"pegasus", "safetensors"}, Case{"pegasus", "bin"},
                                           Case{"fairseq_bart", "fairseq"}, Case{"fairseq_transformer", "fairseq"}),
                         [](const auto& info) { return info.param.arch + "_" + info.param.format; });

// HF's generate (greedy, forced_bos_token_id 0) on a random-weight BART with sources framed <s> ... </s>: the
// Summarizer gives the same tokens (the forced <s> first), by argmax and through the beam machinery; beam search,
// n-best, diverse beams and sampling all start every hypothesis with it.
TEST(HfImportGeneration, ForcedBosGreedyMatchesHuggingFaceGenerateAndEverySearchStartsWithIt) {
  if (!python_torch_available()) GTEST_SKIP() << kPython << " with torch and numpy is needed for the reference";
  const std::string dir = make_checkpoint("bart", "safetensors", "_forced");
  const nlohmann::json expected = read_json(dir + "/expected.json");
  ASSERT_TRUE(expected.contains("forced_greedy"));
  ImportedModel imported = import_hf_checkpoint(dir);
  const ModelConfig& config = imported.model->config();
  ASSERT_TRUE(config.target_bos);
  EXPECT_EQ(config.forced_first_token(), 0);
  EXPECT_EQ(config.decoder_start(), 2);
  const Summarizer summarizer(imported.model, nullptr);
  EXPECT_EQ(summarizer.special_tokens().forced_first, 0);
  std::vector<std::vector<int64_t>> sources;
  for (size_t r = 0; r < expected["source"].size(); ++r) {
    std::vector<int64_t> row;
    for (size_t j = 0; j < expected["source"][r].size(); ++j)
      if (expected["source_mask"][r][j].get<int64_t>() == 1) row.push_back(expected["source"][r][j].get<int64_t>());
    ASSERT_EQ(row.front(), config.bos_id);  // framed as BartTokenizer frames it
    sources.push_back(row);
  }
  GenerationOptions options;
  options.search.beam = 1;
  options.search.max_len_b = expected["greedy_steps"].get<int64_t>();
  for (const bool argmax : {true, false}) {
    SCOPED_TRACE(argmax ? "argmax" : "beam machinery");
    options.search.greedy_argmax = argmax;
    const auto results = summarizer.summarize_tokens(sources, options);
    for (size_t r = 0; r < sources.size(); ++r) {
      ASSERT_EQ(results[r].hypotheses.size(), 1u);
      EXPECT_EQ(results[r].hypotheses[0].tokens, expected["forced_greedy"][r].get<std::vector<int64_t>>());
    }
  }
  struct Search {
    const char* name;
    int64_t beam, nbest, groups;
    bool sampling;
  };
  for (const Search& search :
       {Search{"beam", 4, 4, -1, false}, Search{"diverse", 4, 4, 2, false}, Search{"sampling", 3, 3, -1, true}}) {
    SCOPED_TRACE(search.name);
    options = GenerationOptions();
    options.search.beam = search.beam;
    options.search.nbest = search.nbest;
    options.search.diverse_beam_groups = search.groups;
    options.search.sampling = search.sampling;
    options.search.max_len_b = 6;
    options.search.min_len = 3;  // counts the forced token
    const auto results = summarizer.summarize_tokens(sources, options);
    for (const auto& result : results) {
      ASSERT_EQ(static_cast<int64_t>(result.hypotheses.size()), search.nbest);
      for (const auto& h : result.hypotheses) {
        ASSERT_GE(h.tokens.size(), 3u);
        EXPECT_EQ(h.tokens[0], config.bos_id);
      }
      // The search proper began after the forced step: its beams are not copies of one hypothesis.
      if (!search.sampling) EXPECT_NE(result.hypotheses[0].tokens, result.hypotheses[1].tokens);
    }
  }
  // Without target_bos the first token is the model's own choice (the reference's unforced greedy).
  ModelConfig unforced = config;
  unforced.target_bos = false;
  SummarizationModel plain(unforced);
  {
    torch::NoGradGuard no_grad;
    const auto weights = imported.model->named_parameters();
    for (auto& parameter : plain->named_parameters()) parameter.value().copy_(*weights.find(parameter.key()));
    const auto buffers = imported.model->named_buffers();
    for (auto& buffer : plain->named_buffers()) buffer.value().copy_(*buffers.find(buffer.key()));
  }
  plain->eval();
  options = GenerationOptions();
  options.search.beam = 1;
  options.search.max_len_b = expected["greedy_steps"].get<int64_t>();
  const auto results = Summarizer(plain, nullptr).summarize_tokens(sources, options);
  EXPECT_EQ(results[0].hypotheses[0].tokens, expected["greedy"][0].get<std::vector<int64_t>>());
  fs::remove_all(dir);
}

// A BART vocabulary as BartTokenizer's files hold one: <s> <pad> </s> <unk>, the 256 byte pieces, a few merges,
// <mask> last.
struct TinyBartBpe {
  std::vector<std::string> pieces;  // index = id
  std::vector<std::string> merges;  // "left right", by rank
};

TinyBartBpe tiny_bart_bpe() {
  TinyBartBpe bpe;
  bpe.pieces = {"<s>", "<pad>", "</s>", "<unk>"};
  for (int b = 0; b < 256; ++b) bpe.pieces.push_back(data::byte_level_symbols()[b]);
  const std::string space = "\xC4\xA0";  // U+0120: the byte-level piece of " "
  const std::vector<std::pair<std::string, std::string>> merges = {
      {space, "t"}, {"h", "e"}, {space + "t", "he"}, {"a", "t"}, {space, "c"}, {space + "c", "at"}, {"o", "n"}};
  for (const auto& [left, right] : merges) {
    bpe.merges.push_back(left + " " + right);
    bpe.pieces.push_back(left + right);
  }
  bpe.pieces.push_back("<mask>");
  return bpe;
}

// BART with its GPT-2 byte-level BPE tokenizer: the import embeds it, the model file summarizes text (the source
// encoded as the tokenizer encodes it, EOS-framed as training sources are), and export writes the pair back.
// `text` encodes to `source` (untruncated), and greedily summarizing the text equals summarizing those ids (6
// tokens); `by_text` = the text's summary.
void expect_text_and_ids_agree(const Summarizer& summarizer, const std::string& text,
                               const std::vector<int64_t>& source, DocumentSummary& by_text) {
  GenerationOptions options;
  options.search.beam = 1;
  options.search.max_len_b = 6;
  bool truncated = true;
  EXPECT_EQ(summarizer.encode_source({text}, options, truncated), source);
  EXPECT_FALSE(truncated);
  const auto texts = summarizer.summarize({text}, options);
  const auto by_ids = summarizer.summarize_tokens({source}, options);
  ASSERT_EQ(texts.size(), 1u);
  ASSERT_FALSE(texts[0].hypotheses.empty());
  ASSERT_FALSE(by_ids[0].hypotheses.empty());
  EXPECT_EQ(texts[0].source_tokens, static_cast<int64_t>(source.size()));
  EXPECT_EQ(texts[0].hypotheses[0].tokens, by_ids[0].hypotheses[0].tokens);
  by_text = texts[0];
}

TEST(HfImportTokenizer, BartEmbedsItsByteLevelBpeTokenizerAndSummarizesText) {
  if (!python_torch_available()) GTEST_SKIP() << kPython << " with torch and numpy is needed for the checkpoint";
  const TinyBartBpe bpe = tiny_bart_bpe();
  const std::string dir =
      make_checkpoint("bart", "safetensors", "_bpe", " --vocab-size " + std::to_string(bpe.pieces.size()));
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < bpe.pieces.size(); ++id) vocab[bpe.pieces[id]] = id;
  std::ofstream(dir + "/vocab.json") << vocab.dump();
  std::string merges = "#version: 0.2\n";
  for (const auto& merge : bpe.merges) merges += merge + "\n";
  std::ofstream(dir + "/merges.txt") << merges;

  ImportedModel imported = import_hf_checkpoint(dir);
  EXPECT_EQ(imported.tokenizer_kind, "byte_level_bpe");
  const auto reference = data::ByteLevelBpeTokenizer::from_files(dir + "/vocab.json", dir + "/merges.txt");
  ASSERT_TRUE(data::ByteLevelBpeTokenizer::is_serialized_form(imported.tokenizer_bytes));
  EXPECT_EQ(imported.tokenizer_bytes, reference.serialized());
  const data::Tokenizer any = data::Tokenizer::from_bytes(imported.tokenizer_bytes);
  EXPECT_STREQ(any.kind(), "byte_level_bpe");
  EXPECT_EQ(any.vocab_size(), static_cast<int64_t>(bpe.pieces.size()));

  const std::string path = dir + "/imported.pt";
  save_model_file(path, imported.model, imported.tokenizer_bytes, imported.metadata);
  const Summarizer summarizer = Summarizer::load(path);
  EXPECT_STREQ(summarizer.tokenizer().kind(), "byte_level_bpe");
  const std::string text = "The cat sat on the mat, then the cat ate.";
  std::vector<int64_t> source = reference.encode(text);
  EXPECT_LT(source.size(), text.size());              // the merges applied
  source.insert(source.begin(), reference.bos_id());  // BartTokenizer's framing: <s> ... </s>
  source.push_back(reference.eos_id());
  EXPECT_TRUE(summarizer.config().source_bos);
  DocumentSummary by_text;
  ASSERT_NO_FATAL_FAILURE(expect_text_and_ids_agree(summarizer, text, source, by_text));
  EXPECT_EQ(by_text.hypotheses[0].text, reference.decode(by_text.hypotheses[0].tokens));
  EXPECT_EQ(by_text.hypotheses[0].tokens.front(), reference.bos_id());  // forced (forced_bos_token_id 0)
  const std::vector<int64_t> rest(by_text.hypotheses[0].tokens.begin() + 1, by_text.hypotheses[0].tokens.end());
  EXPECT_EQ(by_text.hypotheses[0].text, reference.decode(rest));  // the text drops it

  // `data prepare` with the checkpoint's vocab.json (merges.txt beside it) and BART's framing: the dataset records
  // the tokenizer (kind, checksum, the same bytes the import embedded) and the framing; its sources are exactly what
  // the Summarizer encodes from the same text, so validation (summarize_tokens on the dataset's ids) and
  // `summarize` (the text) give the same summaries; targets start with <s>.
  const std::string corpus = dir + "/corpus.jsonl";
  {
    std::ofstream out(corpus);
    out << nlohmann::json{{"article_id", "a"},
                          {"article_text", {"The cat sat on the mat .", "then the cat ate ."}},
                          {"abstract_text", {"<S> the cat ate . </S>"}}}
               .dump()
        << "\n"
        << nlohmann::json{{"article_id", "b"},
                          {"article_text", {"On the mat , the cat sat at the heat of the day ."}},
                          {"abstract_text", {"<S> the cat sat . </S>"}}}
               .dump()
        << "\n";
  }
  data::PrepareOptions prepare;
  prepare.tokenizer_path = dir + "/vocab.json";
  prepare.splits = {{"train", corpus}, {"valid", corpus}};
  prepare.output_dir = dir + "/prepared";
  prepare.max_source_length = 64;
  prepare.max_target_length = 16;
  prepare.source_bos = prepare.target_bos = true;
  prepare.progress = false;
  data::prepare_dataset(prepare);
  const nlohmann::json meta = read_json(dir + "/prepared/meta.json");
  EXPECT_EQ(meta["tokenizer"], "byte_level_bpe.json");
  EXPECT_EQ(meta["tokenizer_kind"], "byte_level_bpe");
  EXPECT_EQ(meta["tokenizer_checksum"],
            data::tokenizer_checksum_text(data::tokenizer_checksum(imported.tokenizer_bytes)));
  EXPECT_TRUE(meta["source_bos"].get<bool>());
  EXPECT_TRUE(meta["target_bos"].get<bool>());
  EXPECT_EQ(data::dataset_tokenizer_path(dir + "/prepared"), dir + "/prepared/byte_level_bpe.json");
  EXPECT_EQ(data::Tokenizer::from_file(dir + "/prepared/byte_level_bpe.json").serialized(), imported.tokenizer_bytes);
  data::BinaryDataset prepared(dir + "/prepared/valid.bin");
  ASSERT_EQ(prepared.size(), 2u);
  const std::vector<std::vector<std::string>> articles = {{"The cat sat on the mat .", "then the cat ate ."},
                                                          {"On the mat , the cat sat at the heat of the day ."}};
  GenerationOptions options;
  options.search.beam = 1;
  options.search.max_len_b = 6;
  options.max_source_length = 64;
  bool truncated = true;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(prepared.source(i).to_vector(), summarizer.encode_source(articles[i], options, truncated));
    EXPECT_EQ(prepared.target(i)[0], reference.bos_id());
    const auto from_ids = summarizer.summarize_tokens({prepared.source(i).to_vector()}, options);
    const auto from_text = summarizer.summarize_sentences({articles[i]}, options);
    EXPECT_EQ(from_ids[0].hypotheses[0].tokens, from_text[0].hypotheses[0].tokens);
  }
  // No <sep> piece in BART's vocabulary: --source-sep is refused, naming the tokenizer.
  prepare.source_sentence_separators = true;
  prepare.output_dir = dir + "/prepared-sep";
  try {
    data::prepare_dataset(prepare);
    ADD_FAILURE() << "--source-sep with a byte-level BPE tokenizer was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json: --source-sep needs a <sep> piece"), std::string::npos)
        << e.what();
  }

  // Export writes vocab.json + merges.txt back; importing them gives the same tokenizer.
  export_hf_checkpoint(*imported.model, dir + "/exported", imported.tokenizer_bytes);
  EXPECT_FALSE(fs::exists(dir + "/exported/spiece.model"));
  EXPECT_EQ(import_hf_checkpoint(dir + "/exported").tokenizer_bytes, imported.tokenizer_bytes);
  fs::remove_all(dir);
}

// PEGASUS with its spiece.model: the import embeds PegasusTokenizer's numbering (ids shifted by 103), so the model
// file summarizes text (the source encoded as PegasusTokenizer encodes it, EOS-framed), and export writes spiece.model
// back byte for byte.
TEST(HfImportTokenizer, PegasusEmbedsItsOffsetTokenizerAndSummarizesText) {
  if (!python_torch_available()) GTEST_SKIP() << kPython << " with torch and numpy is needed for the checkpoint";
  const fs::path work = fs::temp_directory_path() / ("pyramidion_hf_" + std::to_string(::getpid()) + "_spiece");
  fs::create_directories(work);
  const std::string spiece = testing::make_pegasus_like_spiece(work);
  if (spiece.empty()) GTEST_SKIP() << "spm_train (Debian package sentencepiece) is needed";
  const auto plain = data::SentencePieceTokenizer::from_file(spiece);
  const int64_t vocab = plain.vocab_size() + 103;
  const std::string dir = make_checkpoint("pegasus", "safetensors", "_offset",
                                          " --vocab-size " + std::to_string(vocab) + " --spiece " + spiece);
  ImportedModel imported = import_hf_checkpoint(dir);
  EXPECT_EQ(imported.tokenizer_kind, "pegasus_sentencepiece");
  EXPECT_EQ(imported.metadata["imported_from"]["tokenizer_kind"], "pegasus_sentencepiece");
  const data::Tokenizer any = data::Tokenizer::from_bytes(imported.tokenizer_bytes);
  EXPECT_STREQ(any.kind(), "pegasus_sentencepiece");
  EXPECT_EQ(any.vocab_size(), vocab);
  const std::string text = "the cat sat on the mat , then the cat ate the fish .";
  // PegasusTokenizer's ids: SentencePiece's + 103, then </s> (1).
  std::vector<int64_t> source;
  for (int64_t id : plain.encode(text)) source.push_back(id + 103);
  source.push_back(1);

  const std::string path = dir + "/imported.pt";
  save_model_file(path, imported.model, imported.tokenizer_bytes, imported.metadata);
  const Summarizer summarizer = Summarizer::load(path);  // refused before: vocabulary size mismatch
  EXPECT_STREQ(summarizer.tokenizer().kind(), "pegasus_sentencepiece");
  DocumentSummary by_text;
  ASSERT_NO_FATAL_FAILURE(expect_text_and_ids_agree(summarizer, text, source, by_text));
  EXPECT_EQ(by_text.hypotheses[0].text, any.decode(by_text.hypotheses[0].tokens));

  // Export writes spiece.model back unchanged; importing the folder gives the same tokenizer.
  export_hf_checkpoint(*imported.model, dir + "/exported", imported.tokenizer_bytes);
  std::ifstream original(spiece, std::ios::binary), exported(dir + "/exported/spiece.model", std::ios::binary);
  std::stringstream a, b;
  a << original.rdbuf();
  b << exported.rdbuf();
  EXPECT_EQ(a.str(), b.str());
  EXPECT_FALSE(fs::exists(dir + "/exported/tokenizer_config.json"));  // the default offset
  EXPECT_EQ(import_hf_checkpoint(dir + "/exported").tokenizer_bytes, imported.tokenizer_bytes);

  // tokenizer_config.json's offset is read; a spiece.model whose pieces do not add up stays plain SentencePiece.
  std::ofstream(dir + "/tokenizer_config.json") << R"({"offset": 50})";
  const ImportedModel other = import_hf_checkpoint(dir);
  EXPECT_EQ(other.tokenizer_kind, "sentencepiece");
  EXPECT_EQ(other.tokenizer_bytes, a.str());
  std::ofstream(dir + "/tokenizer_config.json") << R"({"offset": "many"})";
  try {
    import_hf_checkpoint(dir);
    ADD_FAILURE() << "no error for a bad offset";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: offset: \"many\""), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
  fs::remove_all(work);
}

TEST(FairseqImportErrors, CheckpointsWithoutArgsAreRefused) {
  if (!python_torch_available()) GTEST_SKIP();
  const std::string dir = make_checkpoint("fairseq_bart", "fairseq", "_cfg");
  const std::string path = dir + "/checkpoint.pt";
  // fairseq >= 0.10: the settings in an omegaconf "cfg" (a plain dict here), "args" None.
  const std::string rewrite = std::string(kPython) + " -c \"import torch; c = torch.load('" + path +
                              "'); c['cfg'] = {'model': vars(c['args'])}; c['args'] = None; torch.save(c, '" + path +
                              "')\"";
  ASSERT_EQ(std::system(rewrite.c_str()), 0);
  try {
    import_fairseq_checkpoint(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint.pt: no args Namespace"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(FairseqImportErrors, UnsupportedArgsAreNamed) {
  nlohmann::json args = {{"arch", "lstm"}};
  try {
    fairseq_model_config(args, 10, "x.pt");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "x.pt: args.arch: 'lstm' is not supported (bart_*, transformer*)");
  }
  args = {{"arch", "transformer"},
          {"encoder_embed_dim", 8},
          {"encoder_layers", 1},
          {"decoder_layers", 1},
          {"encoder_attention_heads", 2},
          {"encoder_ffn_embed_dim", 16},
          {"activation_fn", "gelu_accurate"}};
  try {
    fairseq_model_config(args, 10, "x.pt");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("x.pt: args.activation_fn: 'gelu_accurate'"), std::string::npos) << e.what();
  }
}

std::map<std::string, torch::Tensor> as_map(const NamedTensors& tensors) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : tensors) out.emplace(name, t);
  return out;
}

TEST(HfExport, ImportExportRoundTripIsBitIdentical) {
  if (!python_torch_available()) GTEST_SKIP() << kPython << " with torch and numpy is needed for the checkpoints";
  for (const std::string arch : {"bart", "pegasus"}) {
    SCOPED_TRACE(arch);
    const std::string dir = make_checkpoint(arch, "safetensors", "_roundtrip");
    ImportedModel imported = import_hf_checkpoint(dir);
    const std::string out = dir + "/exported";
    export_hf_checkpoint(*imported.model, out, "");
    const auto original = as_map(read_safetensors(dir + "/model.safetensors").tensors);
    const auto exported = as_map(read_safetensors(out + "/model.safetensors").tensors);
    ASSERT_EQ(original.size(), exported.size());
    for (const auto& [name, tensor] : original) {
      ASSERT_TRUE(exported.count(name)) << name;
      EXPECT_EQ(tensor.scalar_type(), exported.at(name).scalar_type()) << name;
      EXPECT_TRUE(torch::equal(tensor, exported.at(name))) << name;
    }
    // config.json survives too: the exported folder imports to the same config.
    const ModelConfig again = hf_model_config(read_json(out + "/config.json"), "exported");
    EXPECT_EQ(again.to_yaml_string(), imported.model->config().to_yaml_string());
    fs::remove_all(dir);
  }
}

TEST(HfExport, RefusesModelsHfCannotRepresent) {
  if (!python_torch_available()) GTEST_SKIP();
  const std::string dir = make_checkpoint("bart", "safetensors", "_refuse");
  ImportedModel imported = import_hf_checkpoint(dir);
  LongInputOptions pooled;
  pooled.pooling = {{0, 4}};
  SummarizationModel converted = convert_to_long_input(*imported.model, pooled);
  try {
    export_hf_checkpoint(*converted, dir + "/out", "");
    FAIL() << "exported a pooling model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("pools"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// ----- bad checkpoints: one-line errors naming the key or file -----

std::string import_error(const std::string& dir) {
  try {
    import_hf_checkpoint(dir);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "no error for " << dir;
  return "";
}

void rewrite_safetensors(const std::string& path, const std::function<void(NamedTensors&)>& edit) {
  NamedTensors tensors = read_safetensors(path).tensors;
  edit(tensors);
  write_safetensors(path, tensors, {{"format", "pt"}});
}

TEST(HfImportErrors, NameTheKeyOrFile) {
  if (!python_torch_available()) GTEST_SKIP();
  const std::string dir = make_checkpoint("bart", "safetensors", "_errors");
  const std::string weights = dir + "/model.safetensors";
  const std::string pristine = dir + "/pristine.safetensors";
  fs::copy_file(weights, pristine);
  auto restore = [&] { fs::copy_file(pristine, weights, fs::copy_options::overwrite_existing); };

  rewrite_safetensors(weights, [](NamedTensors& t) {
    t.erase(
        std::remove_if(t.begin(), t.end(), [](const auto& p) { return p.first == "model.encoder.layers.1.fc2.bias"; }),
        t.end());
  });
  std::string what = import_error(dir);
  EXPECT_NE(what.find("missing model.encoder.layers.1.fc2.bias"), std::string::npos) << what;
  EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
  restore();

  rewrite_safetensors(weights, [](NamedTensors& t) {
    for (auto& [name, tensor] : t)
      if (name == "model.decoder.layers.0.fc1.weight") tensor = torch::zeros({7, 32});
  });
  what = import_error(dir);
  EXPECT_NE(what.find("model.decoder.layers.0.fc1.weight has shape [7, 32]"), std::string::npos) << what;
  restore();

  rewrite_safetensors(weights,
                      [](NamedTensors& t) { t.emplace_back("model.encoder.layers.9.fc1.weight", torch::zeros({2})); });
  what = import_error(dir);
  EXPECT_NE(what.find("unexpected model.encoder.layers.9.fc1.weight"), std::string::npos) << what;
  restore();

  {  // truncated: the last tensor's bytes are cut off
    std::string bytes;
    {
      std::ifstream in(weights, std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      bytes = s.str();
    }
    std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 100);
    what = import_error(dir);
    EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("truncated"), std::string::npos) << what;
    std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, 5);
    what = import_error(dir);
    EXPECT_NE(what.find("truncated"), std::string::npos) << what;
    restore();
  }

  nlohmann::json config = read_json(dir + "/config.json");
  const nlohmann::json pristine_config = config;
  auto write_config = [&](const nlohmann::json& j) {
    std::ofstream(dir + "/config.json", std::ios::trunc) << j.dump();
  };
  config["model_type"] = "t5";
  write_config(config);
  what = import_error(dir);
  EXPECT_NE(what.find("config.json: model_type: 't5' is not supported"), std::string::npos) << what;
  config = pristine_config;
  config.erase("d_model");
  write_config(config);
  what = import_error(dir);
  EXPECT_NE(what.find("config.json: d_model: missing"), std::string::npos) << what;
  config = pristine_config;
  config["activation_function"] = "gelu_new";
  write_config(config);
  what = import_error(dir);
  EXPECT_NE(what.find("activation_function"), std::string::npos) << what;
  write_config(pristine_config);

  fs::remove(weights);
  what = import_error(dir);
  EXPECT_NE(what.find("no weights"), std::string::npos) << what;
  fs::remove_all(dir);
}

TEST(HfImportErrors, TruncatedTorchSaveFileNamesTheFile) {
  if (!python_torch_available()) GTEST_SKIP();
  const std::string dir = make_checkpoint("pegasus", "bin", "_truncated");
  const std::string weights = dir + "/pytorch_model.bin";
  std::string bytes;
  {
    std::ifstream in(weights, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  const std::string what = import_error(dir);
  EXPECT_NE(what.find("pytorch_model.bin"), std::string::npos) << what;
  fs::remove_all(dir);
}

// ----- the safetensors format itself -----

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  NamedTensors tensors = {{"f32", torch::randn({2, 3})},
                          {"f16", torch::randn({4}).to(torch::kHalf)},
                          {"bf16", torch::randn({1, 2}).to(torch::kBFloat16)},
                          {"i64", torch::arange(5)},
                          {"b", torch::tensor({true, false})},
                          {"empty", torch::zeros({0, 3})}};
  const std::string bytes = serialize_safetensors(tensors, {{"format", "pt"}});
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]) % 8, 0);  // the header (short here) is padded to 8 bytes
  const SafetensorsContents back = parse_safetensors(bytes, "mem");
  EXPECT_EQ(back.metadata.at("format"), "pt");
  const auto m = as_map(back.tensors);
  ASSERT_EQ(m.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    EXPECT_EQ(m.at(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(m.at(name), t)) << name;
  }
  try {
    parse_safetensors(bytes.substr(0, bytes.size() - 1), "cut.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.safetensors: "), std::string::npos) << e.what();
  }
}

TEST(HfConfig, ModelsWithoutAnHfFormAreRefusedAndDefaultsAreUnchanged) {
  ModelConfig native;  // today's defaults: fairseq sinusoidal positions, no output bias, no embedding norm
  EXPECT_EQ(native.position_embeddings, PositionEmbeddings::sinusoidal);
  EXPECT_FALSE(native.output_bias);
  EXPECT_FALSE(native.layernorm_embedding);
  EXPECT_EQ(native.decoder_ffn_dim, 0);
  EXPECT_EQ(native.decoder_start(), native.bos_id);
  EXPECT_THROW(hf_architecture_of(native), std::runtime_error);
  EXPECT_EQ(hf_weight_name("encoder_layers.3.self_attn.attention.q_proj.weight"),
            "model.encoder.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(hf_weight_name("decoder_layers.0.cross_attn_norm.bias"),
            "model.decoder.layers.0.encoder_attn_layer_norm.bias");
  EXPECT_EQ(hf_weight_name("decoder_layers.1.ffn.fc2.weight"), "model.decoder.layers.1.fc2.weight");
  EXPECT_EQ(hf_weight_name("decoder_layers.1.ffn_norm.weight"), "model.decoder.layers.1.final_layer_norm.weight");
}

}  // namespace
}  // namespace pyramidion

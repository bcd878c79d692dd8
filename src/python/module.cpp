// `import pyramidion`: the extension `_pyramidion` (python/pyramidion/__init__.py wraps it). A front end like the
// CLI and the server: it registers the top-k operator and the grouped pooling with PyTorch's dispatcher
// (torch.ops.pyramidion.*, so autograd, torch.jit.trace and torch.jit.script see one op) and binds the Summarizer,
// the highlight view and ROUGE. Library errors become Python exceptions with their one-line message.
#include <torch/extension.h>
#include <torch/library.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "pyramidion/decoding/summarizer.h"
#include "pyramidion/eval/rouge.h"
#include "pyramidion/eval/rouge_bootstrap.h"
#include "pyramidion/explain/highlight.h"
#include "pyramidion/nn/representation_pooler.h"
#include "pyramidion/ops/successive_halving_topk.h"
#include "pyramidion/util/runtime.h"
#include "pyramidion/util/yaml_json.h"

namespace py = pybind11;

namespace pyramidion::python {
namespace {

// ---------------------------------------------------------------- the operators

TopKOptions topk_options(double base, bool flip_right, bool sort_back, bool hard) {
  TopKOptions options;
  options.base = base;
  options.flip_right = flip_right;
  options.sort_back = sort_back;
  options.hard = hard;
  return options;
}

// The dispatcher turns a std::invalid_argument into RuntimeError; c10::ValueError reaches Python as ValueError
// (message without the C++ backtrace).
template <typename F>
auto value_errors(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::invalid_argument& e) {
    C10_THROW_ERROR(ValueError, e.what());
  }
}

// Outputs never alias inputs (k >= n passes the input through): the schema promises fresh tensors to TorchScript.
torch::Tensor fresh(const torch::Tensor& out, const torch::Tensor& input) {
  return out.is_same(input) ? out.clone() : out;
}

std::tuple<torch::Tensor, torch::Tensor> topk_op(const torch::Tensor& states,  // (batch, n, dim)
                                                 const torch::Tensor& scores,  // (batch, n)
                                                 int64_t k, const c10::optional<torch::Tensor>& mask,  // (batch, n)
                                                 double base, bool flip_right, bool sort_back, bool hard) {
  return value_errors([&] {
    const TopKResult out = successive_halving_topk(states, scores, k, topk_options(base, flip_right, sort_back, hard),
                                                   mask.has_value() ? *mask : torch::Tensor());
    return std::make_tuple(fresh(out.embeddings, states), fresh(out.scores, scores));
  });
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> pool_op(const torch::Tensor& states,  // (batch, n, dim)
                                                                const torch::Tensor& scores,  // (batch, n)
                                                                const torch::Tensor& mask,    // (batch, n) bool
                                                                int64_t width, double base, bool flip_right,
                                                                bool sort_back, bool hard) {
  return value_errors([&] {
    // pool_documents trusts its caller (the model): check what a Python caller can get wrong first.
    if (states.dim() != 3 || scores.dim() != 2 || mask.dim() != 2 || scores.sizes() != mask.sizes() ||
        states.size(0) != scores.size(0) || states.size(1) != scores.size(1))
      throw std::invalid_argument("pool_documents: states must be (batch, n, dim), scores and mask (batch, n)");
    if (mask.scalar_type() != torch::kBool) throw std::invalid_argument("pool_documents: mask must be a bool tensor");
    const PooledSequence out =
        pool_documents(states, scores, mask, width, topk_options(base, flip_right, sort_back, hard));
    return std::make_tuple(fresh(out.states, states), fresh(out.scores, scores), fresh(out.mask, mask));
  });
}

// ---------------------------------------------------------------- generation options

// The names of `pyramidion summarize`'s flags and the server's JSON fields (underscores for dashes).
struct OptionsParser {
  GenerationOptions options;
  bool max_len_b_given = false;

  static std::string type_name(const py::handle& value) { return py::str(value.get_type().attr("__name__")); }
  static int64_t integer(const std::string& name, const py::handle& value) {
    if (py::isinstance<py::bool_>(value) || !py::isinstance<py::int_>(value))
      throw py::type_error(name + " must be an int (got " + type_name(value) + ")");
    return value.cast<int64_t>();
  }
  static double number(const std::string& name, const py::handle& value) {
    if (py::isinstance<py::bool_>(value) || !(py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)))
      throw py::type_error(name + " must be a number (got " + type_name(value) + ")");
    return value.cast<double>();
  }

  static bool boolean(const std::string& name, const py::handle& value) {
    if (!py::isinstance<py::bool_>(value))
      throw py::type_error(name + " must be a bool (got " + type_name(value) + ")");
    return value.cast<bool>();
  }

  // Returns false for a name that is no generation option. The names are the rows of the generation option table
  // (decoding/generation_options.h), as in the HTTP API, plus max_source_length (the server's --max-document-tokens).
  bool set(const std::string& name, const py::handle& value) {
    if (name == "max_source_length") {
      options.max_source_length = integer(name, value);
      return true;
    }
    const GenerationOptionField* field = find_generation_option(name);
    if (field == nullptr) return false;
    switch (field->type) {
      case GenerationOptionType::integer:
        field->integer(options) = integer(name, value);
        break;
      case GenerationOptionType::number:
        field->number(options) = number(name, value);
        break;
      case GenerationOptionType::boolean:
        field->boolean(options) = boolean(name, value);
        break;
    }
    if (name == "max_len_b") max_len_b_given = true;
    return true;
  }

  static std::string names() {
    std::string list;
    for (const auto& field : generation_option_fields()) list += std::string(list.empty() ? "" : ", ") + field.name;
    return list + ", max_source_length";
  }

  // validate() (the CLI's and the server's check), then the length fitted to the model as the CLI fits it.
  void finish(const ModelConfig& model) {
    validate(
        options);  // InvalidGenerationOption is a std::invalid_argument: ValueError "beam must be in [1, 1024] (got 0)"
    auto& s = options.search;
    const int64_t cap = model.max_target_positions - 1;
    if (!max_len_b_given) s.max_len_b = std::min<int64_t>(s.max_len_b, cap);
    const double longest =
        s.max_len_a * static_cast<double>(model.max_source_positions) + static_cast<double>(s.max_len_b);
    if (longest > static_cast<double>(cap)) {
      const std::string message = "max_len_a " + py::str(py::float_(s.max_len_a)).cast<std::string>() + " max_len_b " +
                                  std::to_string(s.max_len_b) + " allow longer summaries than the model generates (" +
                                  std::to_string(cap) +
                                  " tokens, max_target_positions - 1); summaries are capped there";
      if (PyErr_WarnEx(PyExc_UserWarning, message.c_str(), 1) != 0) throw py::error_already_set();
    }
  }
};

// A document: a string, or a list of its sentences (the arXiv/PubMed `article_text` layout).
std::vector<std::string> document_sentences(const py::handle& document, const char* what) {
  if (py::isinstance<py::str>(document)) return {document.cast<std::string>()};
  if (py::isinstance<py::list>(document) || py::isinstance<py::tuple>(document)) {
    std::vector<std::string> sentences;
    for (const auto& s : document) {
      if (!py::isinstance<py::str>(s)) throw py::type_error(std::string(what) + " must be a str or a list of str");
      sentences.push_back(s.cast<std::string>());
    }
    return sentences;
  }
  throw py::type_error(std::string(what) + " must be a str or a list of str");
}

py::object json_to_python(const nlohmann::json& value) {
  // No static py::object: it would be released after the interpreter is gone.
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return py::module_::import("json").attr("loads")(text);
}

// ---------------------------------------------------------------- Summarizer

class PySummarizer {
 public:
  PySummarizer(const std::string& path, const std::string& device, const std::string& compute_type, int threads) {
    // The library says "no such model file" and "corrupt" alike (runtime_error); a file that cannot be opened is
    // an OSError in Python, with errno's class (FileNotFoundError, IsADirectoryError, PermissionError).
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      PyErr_SetObject(PyExc_FileNotFoundError, py::make_tuple(ENOENT, "no such model file", path).ptr());
      throw py::error_already_set();
    }
    if (fs::is_directory(path, ec)) {
      PyErr_SetObject(PyExc_IsADirectoryError, py::make_tuple(EISDIR, "is a directory, not a model file", path).ptr());
      throw py::error_already_set();
    }
    if (!std::ifstream(path)) {
      PyErr_SetObject(PyExc_PermissionError, py::make_tuple(EACCES, "cannot open the model file", path).ptr());
      throw py::error_already_set();
    }
    if (threads < 0) throw py::value_error("threads must be >= 0 (got " + std::to_string(threads) + ")");
    // The one process-wide setting (util/runtime.h); the library itself never changes it.
    if (threads > 0) configure_threads(threads);
    SummarizerOptions options;
    options.device = device;
    options.compute_type = compute_type;
    try {
      py::gil_scoped_release release;
      summarizer_ = std::make_shared<const Summarizer>(Summarizer::load(path, options));
    } catch (const std::invalid_argument& e) {  // "device cuda: ..." / "compute_type x: ...": a ValueError
      throw py::value_error(e.what());
    }
  }

  py::list summarize(const py::iterable& documents, const py::kwargs& kwargs) const {
    if (py::isinstance<py::str>(documents))
      throw py::type_error("summarize() takes a list of documents (a str is one document: pass [text])");
    std::vector<std::vector<std::string>> sentences;
    for (const auto& d : documents) sentences.push_back(document_sentences(d, "each document"));
    GenerationOptions generation = generation_options(kwargs, "summarize");
    std::vector<DocumentSummary> results;
    {
      py::gil_scoped_release release;  // summarize() is const and thread-safe: other threads may share the model
      results = summarizer_->summarize_sentences(sentences, generation);
    }
    py::list out;
    for (const auto& r : results) {
      py::list hypotheses;
      for (const auto& h : r.hypotheses) {
        py::dict d;
        d["summary"] = h.text;
        d["score"] = h.score;
        hypotheses.append(d);
      }
      out.append(hypotheses);
    }
    return out;
  }

  py::object highlight(const py::handle& document, const py::kwargs& kwargs) const {
    HighlightOptions options;
    py::kwargs generation_kwargs;
    std::string id;
    bool include_tokens = true;
    for (const auto& [key, value] : kwargs) {
      const std::string name = key.cast<std::string>();
      if (name == "links")
        options.links_per_summary_word = OptionsParser::integer(name, value);
      else if (name == "id")
        id = value.cast<std::string>();
      else if (name == "tokens")
        include_tokens = value.cast<bool>();
      else
        generation_kwargs[key] = value;
    }
    if (options.links_per_summary_word < 1)
      throw py::value_error("links must be >= 1 (got " + std::to_string(options.links_per_summary_word) + ")");
    const std::vector<std::string> sentences = document_sentences(document, "document");
    options.generation = generation_options(generation_kwargs, "highlight");
    nlohmann::json numbers;
    {
      py::gil_scoped_release release;
      DocumentHighlight h = highlight_document(*summarizer_, sentences, options);
      h.id = id;
      numbers = highlight_json(h, include_tokens);
    }
    return json_to_python(numbers);
  }

  // The model's config as `info --json` shows it ({"model": {...}}).
  py::dict config() const { return json_to_python(yaml_to_json<nlohmann::json>(summarizer_->config().to_yaml())); }
  std::string device() const { return summarizer_->device().str(); }
  std::string path() const { return summarizer_->path(); }

 private:
  GenerationOptions generation_options(const py::kwargs& kwargs, const char* method) const {
    OptionsParser parser;
    for (const auto& [key, value] : kwargs) {
      const std::string name = key.cast<std::string>();
      if (!parser.set(name, value))
        throw py::type_error(std::string(method) + "() got an unexpected keyword argument '" + name +
                             "' (generation options: " + OptionsParser::names() + ")");
    }
    parser.finish(summarizer_->config());
    return parser.options;
  }

  std::shared_ptr<const Summarizer> summarizer_;
};

// ---------------------------------------------------------------- ROUGE

py::dict interval(const MeanInterval& m) {
  py::dict d;
  d["mean"] = m.mean;
  d["low"] = m.low;
  d["mid"] = m.mid;
  d["high"] = m.high;
  return d;
}

// The numbers of `pyramidion rouge --json`: corpus means with bootstrap intervals, fractions (not %).
py::dict rouge(const std::vector<std::string>& targets, const std::vector<std::string>& predictions, bool use_stemmer,
               double confidence, int samples, uint32_t seed) {
  if (targets.size() != predictions.size())
    throw py::value_error("rouge: " + std::to_string(targets.size()) + " targets but " +
                          std::to_string(predictions.size()) + " predictions");
  BootstrapOptions bootstrap;
  bootstrap.confidence = confidence;
  bootstrap.samples = samples;
  bootstrap.seed = seed;
  RougeCorpusScores corpus;
  {
    py::gil_scoped_release release;
    RougeBootstrapAggregator aggregator(bootstrap);  // checks confidence and samples (std::invalid_argument)
    const RougeScorer scorer(RougeOptions{use_stemmer});
    for (size_t i = 0; i < targets.size(); ++i) {
      try {
        aggregator.add(scorer.score(targets[i], predictions[i]));
      } catch (const std::length_error& e) {
        throw std::invalid_argument("rouge: pair " + std::to_string(i) + ": " + e.what());
      }
    }
    corpus = aggregator.aggregate();
  }
  py::dict out;
  out["count"] = corpus.count;
  out["use_stemmer"] = use_stemmer;
  out["confidence"] = confidence;
  out["bootstrap_samples"] = samples;
  out["seed"] = seed;
  const std::pair<const char*, const RougeScoreInterval*> metrics[] = {{"rouge1", &corpus.rouge1},
                                                                       {"rouge2", &corpus.rouge2},
                                                                       {"rougeL", &corpus.rougeL},
                                                                       {"rougeLsum", &corpus.rougeLsum}};
  for (const auto& [name, m] : metrics) {
    py::dict metric;
    metric["precision"] = interval(m->precision);
    metric["recall"] = interval(m->recall);
    metric["fmeasure"] = interval(m->fmeasure);
    out[name] = metric;
  }
  return out;
}

// ---------------------------------------------------------------- the C++ pooler, for the tests

// The library's RepresentationPooler with the given scorer weights: the Python TopKPooler must equal it bit for bit.
// states (batch, n, dim), mask (batch, n) bool, weight (1, dim), bias (1) -> (pooled, scores, mask).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> cpp_pooler(const torch::Tensor& states,  // (batch, n, dim)
                                                                   const torch::Tensor& mask,    // (batch, n)
                                                                   const torch::Tensor& weight,  // (1, dim)
                                                                   const torch::Tensor& bias,    // (1)
                                                                   int64_t width, double base, bool flip_right,
                                                                   bool sort_back, bool hard_at_inference,
                                                                   bool training) {
  RepresentationPoolerOptions options;
  options.dim = states.size(2);
  options.width = width;
  options.topk = topk_options(base, flip_right, sort_back, false);
  options.hard_at_inference = hard_at_inference;
  RepresentationPooler pooler(options);
  pooler->to(weight.scalar_type());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : pooler->named_parameters()) p.value().copy_(p.key() == "scorer.weight" ? weight : bias);
  }
  pooler->train(training);
  const PoolerOutput out = pooler->forward(states, mask);
  return {out.pooled.states, out.pooled.scores, out.pooled.mask};
}

// ---------------------------------------------------------------- the C++ call, for the benchmark

// Forward + backward of the op called from C++ in this process (bench/python_topk.py times the same step from
// Python beside it: same allocator, same threads). states (batch, n, dim), scores (batch, n), grad (batch, k, dim).
std::vector<double> bench_topk_cpp(const torch::Tensor& states, const torch::Tensor& scores, const torch::Tensor& grad,
                                   int64_t k, int repetitions) {
  py::gil_scoped_release release;
  torch::Tensor e = states.detach().requires_grad_(true);
  torch::Tensor s = scores.detach().requires_grad_(true);
  std::vector<double> seconds;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const TopKResult out = successive_halving_topk(e, s, k);
    torch::autograd::backward({out.embeddings, out.scores}, {grad, torch::ones_like(out.scores)});
    e.mutable_grad().reset();
    s.mutable_grad().reset();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

}  // namespace
}  // namespace pyramidion::python

// Schemas as TorchScript sees them; keyword-only options as in the Python wrapper.
TORCH_LIBRARY(pyramidion, m) {
  m.def(
      "successive_halving_topk(Tensor states, Tensor scores, int k, *, Tensor? mask=None, float base=20.0, "
      "bool flip_right=True, bool sort_back=True, bool hard=False) -> (Tensor, Tensor)",
      &pyramidion::python::topk_op);
  m.def(
      "pool_documents(Tensor states, Tensor scores, Tensor mask, int width, *, float base=20.0, "
      "bool flip_right=True, bool sort_back=True, bool hard=False) -> (Tensor, Tensor, Tensor)",
      &pyramidion::python::pool_op);
}

PYBIND11_MODULE(_pyramidion, m) {
  using namespace pyramidion::python;
  m.doc() = "pyramidion's C++ library (use the `pyramidion` package)";

  // LibTorch errors without their C++ backtrace; the library's std:: exceptions map as pybind11 maps them
  // (invalid_argument, length_error -> ValueError; runtime_error -> RuntimeError).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    } catch (const pyramidion::GenerationCancelled& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<PySummarizer>(m, "Summarizer",
                           "A model file from `pyramidion train` or `demo`, loaded once (config, weights, tokenizer).\n"
                           "device: cpu, cuda, cuda:N or auto; compute_type: default (the file's own type), float32, "
                           "int8 (= int8_float32: int8 weights, float32 activations; CPU), bfloat16, auto (the "
                           "fastest this device supports), float64, float16 (CUDA); threads > 0 sets LibTorch's "
                           "intra-op threads. Threads may share one Summarizer.")
      .def(py::init<const std::string&, const std::string&, const std::string&, int>(), py::arg("model_path"),
           py::arg("device") = "cpu", py::arg("compute_type") = "default", py::arg("threads") = 0)
      .def("summarize", &PySummarizer::summarize, py::arg("documents"),
           "summarize(documents, **options) -> per document a list of {'summary', 'score'}, best first.\n"
           "documents: a list of str, or of sentence lists. options: the CLI's decoding options (beam, lenpen, "
           "min_len, max_len_a, max_len_b, no_repeat_ngram_size, unk_penalty, nbest, temperature, sampling, "
           "sampling_topk, "
           "sampling_topp, seed, diverse_beam_groups, diverse_beam_strength, max_source_tokens_per_batch, "
           "max_documents_per_batch, "
           "max_source_length). Releases the GIL while generating.")
      .def("highlight", &PySummarizer::highlight, py::arg("document"),
           "highlight(document, *, id='', links=3, tokens=True, **options) -> the numbers of "
           "`pyramidion highlight --json` as a dict.")
      .def_property_readonly("config", &PySummarizer::config, "the model's config ({'model': {...}})")
      .def_property_readonly("device", &PySummarizer::device)
      .def_property_readonly("path", &PySummarizer::path);

  m.def("rouge", &rouge, py::arg("targets"), py::arg("predictions"), py::arg("use_stemmer") = true, py::kw_only(),
        py::arg("confidence") = 0.95, py::arg("bootstrap_samples") = 1000, py::arg("seed") = 0u,
        "ROUGE-1/2/L/Lsum as rouge_score computes them: the corpus means with bootstrap intervals of "
        "`pyramidion rouge --json` (fractions). Summaries' sentences are separated by '\\n'.");
  m.def("_cpp_pooler", &cpp_pooler, py::arg("states"), py::arg("mask"), py::arg("weight"), py::arg("bias"),
        py::arg("width"), py::arg("base"), py::arg("flip_right"), py::arg("sort_back"), py::arg("hard_at_inference"),
        py::arg("training"));
  m.def("_bench_topk_cpp", &bench_topk_cpp, py::arg("states"), py::arg("scores"), py::arg("grad"), py::arg("k"),
        py::arg("repetitions"));
  m.def("_generation_option_names", [] { return OptionsParser::names(); });
}

# The library's sources, one explicit list per layer (layer order: ops -> nn/data -> models -> decoding ->
# explain / eval -> evaluation -> training -> benchmark; util and plot underneath; docs/development.md). A new file is added here; CMakeLists.txt includes this file.
# CUDA sources (*_cuda.cu) are compiled only with -DPYRAMIDION_WITH_CUDA=ON.

set(PYRAMIDION_OPS_SOURCES
  src/ops/int8_linear.cpp
  src/ops/successive_halving_topk.cpp
  src/ops/successive_halving_topk_cpu.cpp
  src/ops/successive_halving_topk_generic.cpp
  src/ops/successive_halving_topk_reference.cpp
  src/ops/successive_halving_trace.cpp)

set(PYRAMIDION_NN_SOURCES
  src/nn/attention.cpp
  src/nn/blockwise_self_attention.cpp
  src/nn/copy_attention.cpp
  src/nn/decoder_cache.cpp
  src/nn/encoder_output.cpp
  src/nn/feed_forward.cpp
  src/nn/multihead_attention.cpp
  src/nn/pooling_report.cpp
  src/nn/quantizable_linear.cpp
  src/nn/pooling_trace.cpp
  src/nn/representation_pooler.cpp
  src/nn/sinusoidal_positions.cpp
  src/nn/transformer_decoder_layer.cpp
  src/nn/transformer_encoder_layer.cpp
  src/nn/vocabulary_projection.cpp)

set(PYRAMIDION_DATA_SOURCES
  src/data/any_tokenizer.cpp
  src/data/binary_dataset.cpp
  src/data/binary_dataset_writer.cpp
  src/data/byte_level_bpe.cpp
  src/data/byte_level_bpe_formats.cpp
  src/data/byte_level_bpe_loader.cpp
  src/data/byte_level_pretokenizer.cpp
  src/data/cohan_writer.cpp
  src/data/dataset_directory.cpp
  src/data/jsonl_readers.cpp
  src/data/decompressing_file.cpp
  src/data/line_source.cpp
  src/data/pegasus_tokenizer.cpp
  src/data/prepare.cpp
  src/data/readers.cpp
  src/data/sentencepiece_tokenizer.cpp
  src/data/spm_library.cpp
  src/data/synthetic_corpus.cpp
  src/data/synthetic_encoding.cpp
  src/data/text_readers.cpp
  src/data/training_text.cpp
  src/data/unicode_classes.cpp
  src/data/utf8_text.cpp)

set(PYRAMIDION_MODELS_SOURCES
  src/models/architecture_summary.cpp
  src/models/compute_type.cpp
  src/models/fairseq_import.cpp
  src/models/hf_checkpoint.cpp
  src/models/hf_config.cpp
  src/models/hf_import.cpp
  src/models/long_input_conversion.cpp
  src/models/model_config.cpp
  src/models/model_file.cpp
  src/models/model_quantization.cpp
  src/models/pooler_factory.cpp
  src/models/poolers/topk_pooler.cpp
  src/models/presets.cpp
  src/models/summarization_model.cpp
  src/models/torch_save_reader.cpp)

set(PYRAMIDION_DECODING_SOURCES
  src/decoding/beam_search.cpp
  src/decoding/generation_options.cpp
  src/decoding/summarizer.cpp
  src/decoding/summary_generator.cpp)

set(PYRAMIDION_EXPLAIN_SOURCES
  src/explain/highlight.cpp
  src/explain/highlight_page.cpp
  src/explain/pooling_shares.cpp
  src/explain/summary_links.cpp
  src/explain/word_alignment.cpp)

set(PYRAMIDION_EVAL_SOURCES
  src/eval/lead_baseline.cpp
  src/eval/porter_stemmer.cpp
  src/eval/rouge.cpp
  src/eval/rouge_bootstrap.cpp
  src/eval/rouge_tokenizer.cpp)

set(PYRAMIDION_EVALUATION_SOURCES
  src/evaluation/corpus_evaluation.cpp)

set(PYRAMIDION_TRAINING_SOURCES
  src/training/batch.cpp
  src/training/batch_plan.cpp
  src/training/checkpoint.cpp
  src/training/checkpoint_averaging.cpp
  src/training/checkpoint_policy.cpp
  src/training/curriculum.cpp
  src/training/dropout_stream.cpp
  src/training/distributed/c10d_gradient_reducer.cpp
  src/training/distributed/distributed_context.cpp
  src/training/distributed/store_bind_address.cpp
  src/training/label_smoothed_cross_entropy.cpp
  src/training/lr_scheduler.cpp
  src/training/metrics_log.cpp
  src/training/mixed_precision.cpp
  src/training/rank_agreement.cpp
  src/training/scheduler.cpp
  src/training/stop_signal.cpp
  src/training/token_budget_batcher.cpp
  src/training/training_run.cpp
  src/training/trainer.cpp
  src/training/trainer_checkpoints.cpp
  src/training/training_config.cpp
  src/training/training_log.cpp
  src/training/update_step.cpp
  src/training/validator.cpp)

set(PYRAMIDION_BENCHMARK_SOURCES
  src/benchmark/architecture_benchmark.cpp
  src/benchmark/topk_approximation.cpp)

set(PYRAMIDION_PLOT_SOURCES
  src/plot/svg_plot.cpp
  src/plot/training_curves.cpp)

set(PYRAMIDION_UTIL_SOURCES
  src/util/atomic_file.cpp
  src/util/device.cpp
  src/util/fd_stream_buffer.cpp
  src/util/directory_lock.cpp
  src/util/json_depth.cpp
  src/util/line_reader.cpp
  src/util/markup_escape.cpp
  src/util/peak_memory.cpp
  src/util/progress.cpp
  src/util/runtime.cpp
  src/util/safetensors.cpp
  src/util/terminal_log_sink.cpp
  src/util/tensor_archive.cpp
  src/util/thread_pool.cpp
  src/util/timing.cpp
  src/util/yaml_document.cpp
  src/util/yaml_override.cpp)

# Fused CUDA kernels; each registers itself with the device dispatch of its op (none yet: CUDA tensors use
# the generic LibTorch-op kernels).
set(PYRAMIDION_OPS_CUDA_SOURCES)

set(PYRAMIDION_SOURCES
  ${PYRAMIDION_OPS_SOURCES} ${PYRAMIDION_NN_SOURCES} ${PYRAMIDION_DATA_SOURCES} ${PYRAMIDION_MODELS_SOURCES}
  ${PYRAMIDION_DECODING_SOURCES} ${PYRAMIDION_EXPLAIN_SOURCES} ${PYRAMIDION_EVAL_SOURCES} ${PYRAMIDION_EVALUATION_SOURCES}
  ${PYRAMIDION_TRAINING_SOURCES} ${PYRAMIDION_BENCHMARK_SOURCES} ${PYRAMIDION_PLOT_SOURCES} ${PYRAMIDION_UTIL_SOURCES})
list(TRANSFORM PYRAMIDION_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/")
list(TRANSFORM PYRAMIDION_OPS_CUDA_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/")

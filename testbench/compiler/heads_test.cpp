// Task heads (workload/heads.hpp): which head a checkpoint has, and the classification metrics
// of `acceltran evaluate` on hand-computed confusion matrices.
#include <catch2/catch.hpp>

#include <cmath>

#include "acceltran/config/input_error.hpp"
#include "acceltran/workload/heads.hpp"
#include "acceltran/workload/weights.hpp"
#include "test_util.hpp"

using namespace acceltran;

namespace {

const std::string kFixtures = ACCELTRAN_FIXTURES_DIR_FOR_TESTS;

BertConfig tiny_config() {
  BertConfig c;
  c.hidden = 64;
  c.vocab_size = 512;
  return c;
}

}  // namespace

TEST_CASE("metrics: binary F1 of class 1, MCC and macro-F1 on a hand-computed matrix", "[heads]") {
  // rows: label, columns: prediction. TN 5, FP 2, FN 1, TP 4.
  const ClassificationMetrics m = classification_metrics({5, 2, 1, 4}, 2);
  CHECK(m.accuracy == Approx(9.0 / 12));
  CHECK(m.f1 == Approx(8.0 / 11));                                // 2 TP / (2 TP + FP + FN)
  CHECK(m.mcc == Approx((4.0 * 5 - 2 * 1) / std::sqrt(1260.0)));  // 18 / sqrt(6 5 7 6)
  CHECK(m.macro_f1 == Approx((10.0 / 13 + 8.0 / 11) / 2));
  const ClassificationMetrics one_class = classification_metrics({3, 0, 0, 0}, 2);
  CHECK(one_class.f1 == 0);   // no true positive
  CHECK(one_class.mcc == 0);  // a marginal is 0
  CHECK(one_class.macro_f1 == 1);
}

TEST_CASE("metrics: multi-class macro-F1 over the classes that occur; no binary F1 or MCC",
          "[heads]") {
  // Class 2 is labelled once and never predicted (F1 0, counted); class 3 never occurs (left out).
  const ClassificationMetrics m =
      classification_metrics({3, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 4);
  CHECK(m.accuracy == Approx(5.0 / 7));
  CHECK(m.macro_f1 == Approx((6.0 / 8 + 4.0 / 5 + 0) / 3));
  CHECK(std::isnan(m.f1));
  CHECK(std::isnan(m.mcc));
}

TEST_CASE("heads: detected from config.json's architectures, else from the tensors", "[heads]") {
  const TaskHead token = load_task_head(kFixtures + "/bert-2l-64-token/model.safetensors",
                                        kFixtures + "/bert-2l-64-token/config.json", tiny_config());
  CHECK(token.kind == HeadKind::token_classification);
  CHECK(token.num_labels == 3);
  CHECK(token.labels[1] == "B-X");
  const TaskHead mlm = load_task_head(kFixtures + "/bert-2l-64-mlm/model.safetensors",
                                      kFixtures + "/bert-2l-64-mlm/config.json", tiny_config());
  CHECK(mlm.kind == HeadKind::masked_lm);
  CHECK(mlm.num_labels == 512);
  testutil::TempDir d;
  const std::string plain = d.write("config.json", "{\"hidden_size\": 64}");
  // No architectures: the tensors decide (no pooler + classifier: token classification).
  CHECK(load_task_head(kFixtures + "/bert-2l-64-token/model.safetensors", plain, tiny_config())
            .kind == HeadKind::token_classification);
  CHECK(
      load_task_head(kFixtures + "/bert-2l-64-mlm/model.safetensors", plain, tiny_config()).kind ==
      HeadKind::masked_lm);
  CHECK_THROWS_WITH(
      load_task_head(kFixtures + "/bert-2l-64/model.safetensors", plain, tiny_config()),
      Catch::Contains("bert-2l-64/model.safetensors: no supported task head: looked for "
                      "'classifier.weight'") &&
          Catch::Contains("'cls.predictions.bias' (BertForMaskedLM)"));
}

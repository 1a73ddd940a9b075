#!/usr/bin/env python3
"""Builds the task-head fixtures of `acceltran evaluate`: token-classification, masked-LM and
binary sequence-classification checkpoints on the tiny BERT of tools/make_bert_fixture.py, with
labelled datasets and the predictions and metrics of a plain-torch forward pass.

Writes testbench/fixtures/bert-2l-64-token/, bert-2l-64-mlm/ and bert-2l-64-binary/ (or under
--out DIR), each with:
  config.json        the tiny BERT's config with "architectures" BertForTokenClassification
                     (num_labels 3, id2label), BertForMaskedLM, or
                     BertForSequenceClassification (num_labels 2)
  model.safetensors  F32 weights, Hugging Face names: bert.* (a pooler for sequence
                     classification only: Hugging Face builds the token heads without one) and
                     the head: classifier.{weight,bias}, or
                     cls.predictions.transform.{dense,LayerNorm}.{weight,bias} and
                     cls.predictions.bias (the decoder tied to bert.embeddings.word_embeddings)
  test.jsonl         10 sequences of 5 to 16 ids, "labels" per token (-100: not labelled); one
                     row has an explicit attention_mask with padding. Token classification: every
                     real token but the first and last labelled; masked-LM: 2 to 4 positions per
                     sequence replaced by the id MASK_ID and labelled; sequence classification:
                     one "label" per sequence. Labels are the torch
                     prediction for about 70 % of the labelled tokens and another class / id for
                     the rest, so accuracy is neither 0 nor 1.
  expected.json      the torch predictions per sequence (labelled tokens, in position order),
                     accuracy; for the classifiers macro_f1 (mean F1 over the classes that
                     occur as a label or a prediction); for the binary one f1 (of class 1) and
                     mcc (Matthews correlation).

The encoder is make_bert_fixture.encoder (Hugging Face's BertModel in eval mode, written in torch);
each sequence runs alone on its real tokens (what a padding mask computes). The heads follow
Hugging Face's BertForTokenClassification and BertOnlyMLMHead. Needs PyTorch (/usr/bin/python3
with Debian's python3-torch). The outputs are committed; tests never run this script.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bert_fixture as base  # noqa: E402  (re-executes under an interpreter with torch)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SEED = 20261208
NUM_LABELS = 3
SEQUENCES, MIN_LEN, MAX_LEN = 10, 5, 16
MASK_ID = 4
PADDED_ROW, PADDED_TAIL = 3, 3  # row 3 carries 3 padding positions with attention_mask 0


def linear(w, name, out_dim, in_dim, gen):
    w[name + ".weight"] = torch.randn(out_dim, in_dim, generator=gen) / math.sqrt(in_dim)
    w[name + ".bias"] = torch.randn(out_dim, generator=gen) * 0.1


def token_head(w, hidden):
    return F.linear(hidden, w["classifier.weight"], w["classifier.bias"])


def sequence_head(w, hidden):
    """BertForSequenceClassification: the pooler on [CLS], then the classifier."""
    pooled = torch.tanh(F.linear(hidden[0], w["pooler.dense.weight"], w["pooler.dense.bias"]))
    return F.linear(pooled, w["classifier.weight"], w["classifier.bias"])


def mlm_head(w, hidden):
    h = base.CONFIG["hidden_size"]
    t = "cls.predictions.transform."
    x = F.gelu(F.linear(hidden, w[t + "dense.weight"], w[t + "dense.bias"]))
    x = F.layer_norm(x, (h,), w[t + "LayerNorm.weight"], w[t + "LayerNorm.bias"],
                     base.CONFIG["layer_norm_eps"])
    return F.linear(x, w["embeddings.word_embeddings.weight"], w["cls.predictions.bias"])


def sequences(gen):
    out = []
    for _ in range(SEQUENCES):
        n = int(torch.randint(MIN_LEN, MAX_LEN + 1, (1,), generator=gen))
        out.append(torch.randint(5, base.CONFIG["vocab_size"], (n,), generator=gen))
    return out


def labelled_positions(kind, ids, gen):
    n = ids.shape[0]
    if kind == "sequence":
        return [0]
    if kind == "token":
        return list(range(1, n - 1))
    count = int(torch.randint(2, 5, (1,), generator=gen))
    return sorted(torch.randperm(n - 2, generator=gen)[:count].add(1).tolist())


def make_rows(kind, w, head, gen):
    """Dataset rows and the torch predictions of their labelled tokens."""
    rows, predictions, labels_flat = [], [], []
    classes = {"token": NUM_LABELS, "sequence": 2}.get(kind, base.CONFIG["vocab_size"])
    for i, ids in enumerate(sequences(gen)):
        where = labelled_positions(kind, ids, gen)
        original = ids.clone()
        if kind == "mlm":
            ids[where] = MASK_ID
        with torch.no_grad():
            pred = head(w, base.encoder(w, ids)[0][-1]).argmax(-1).reshape(-1)
        labels = [-100] * ids.shape[0]
        for p in where:
            keep = float(torch.rand(1, generator=gen)) < 0.7
            other = int(original[p]) if kind == "mlm" else (int(pred[p]) + 1) % classes
            labels[p] = int(pred[p]) if keep or other == int(pred[p]) else other
        row = {"input_ids": ids.tolist(), "labels": labels}
        if kind == "sequence":
            row = {"input_ids": ids.tolist(), "label": labels[0]}
        if i == PADDED_ROW:  # explicit padding: its labels must be ignored
            row["input_ids"] += [0] * PADDED_TAIL
            row["attention_mask"] = [1] * ids.shape[0] + [0] * PADDED_TAIL
            if kind != "sequence":
                row["labels"] += [1] * PADDED_TAIL
        rows.append(row)
        predictions.append([int(pred[p]) for p in where])
        labels_flat += [(labels[p], int(pred[p])) for p in where]
    return rows, predictions, labels_flat


def macro_f1(pairs):
    classes = sorted({c for pair in pairs for c in pair})
    f1 = []
    for c in classes:
        tp = sum(1 for l, p in pairs if l == c and p == c)
        support = sum(1 for l, p in pairs if l == c) + sum(1 for l, p in pairs if p == c)
        f1.append(2 * tp / support)
    return sum(f1) / len(f1)


def binary_metrics(pairs):
    """F1 of class 1 and Matthews correlation."""
    tp = sum(1 for l, p in pairs if l == 1 and p == 1)
    tn = sum(1 for l, p in pairs if l == 0 and p == 0)
    fp = sum(1 for l, p in pairs if l == 0 and p == 1)
    fn = sum(1 for l, p in pairs if l == 1 and p == 0)
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return 2 * tp / (2 * tp + fp + fn), (tp * tn - fp * fn) / math.sqrt(den) if den else 0.0


def build(kind, out, gen):
    c = dict(base.CONFIG)
    w = base.make_weights(gen)
    if kind != "sequence":
        del w["pooler.dense.weight"], w["pooler.dense.bias"]
    h = c["hidden_size"]
    if kind == "sequence":
        c["architectures"] = ["BertForSequenceClassification"]
        c["num_labels"] = 2
        linear(w, "classifier", 2, h, gen)
        head = sequence_head
    elif kind == "token":
        c["architectures"] = ["BertForTokenClassification"]
        c["num_labels"] = NUM_LABELS
        c["id2label"] = {str(i): name for i, name in enumerate(["O", "B-X", "I-X"])}
        linear(w, "classifier", NUM_LABELS, h, gen)
        head = token_head
    else:
        c["architectures"] = ["BertForMaskedLM"]
        t = "cls.predictions.transform."
        linear(w, t + "dense", h, h, gen)
        w[t + "LayerNorm.weight"] = 1.0 + torch.randn(h, generator=gen) * 0.1
        w[t + "LayerNorm.bias"] = torch.randn(h, generator=gen) * 0.1
        w["cls.predictions.bias"] = torch.randn(c["vocab_size"], generator=gen) * 0.1
        head = mlm_head
    rows, predictions, pairs = make_rows(kind, w, head, gen)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    tensors = {("bert." + k if not k.startswith(("classifier", "cls.")) else k): v
               for k, v in w.items()}
    base.write_safetensors(os.path.join(out, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(out, "test.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    expected = {"seed": SEED, "torch": torch.__version__, "predictions": predictions,
                "items": len(pairs),
                "accuracy": sum(1 for l, p in pairs if l == p) / len(pairs)}
    if kind != "mlm":
        expected["macro_f1"] = macro_f1(pairs)
    if kind == "sequence":
        expected["f1"], expected["mcc"] = binary_metrics(pairs)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(out)}: {len(rows)} sequences, {len(pairs)} labelled items, "
          f"accuracy {expected['accuracy']:.6f}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "testbench", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    build("token", os.path.join(args.out, "bert-2l-64-token"), gen)
    build("mlm", os.path.join(args.out, "bert-2l-64-mlm"), gen)
    build("sequence", os.path.join(args.out, "bert-2l-64-binary"), gen)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Builds models/checkpoints/fortunes-bert-tiny/: a BERT-Tiny-shaped classifier of Debian's
`fortunes` data files (the file a fortune comes from is its label).

Reproducible: `apt-get install -y fortunes python3-torch`, then
    /usr/bin/python3 tools/train_fortunes_classifier.py --out models/checkpoints/fortunes-bert-tiny
(CPU, a few minutes). Steps:
  1. the fortunes of CATEGORIES (split at lines '%'), whitespace runs collapsed, duplicates and
     fortunes without letters dropped; a seeded shuffle, 80 % train / 20 % test per category;
  2. a WordPiece vocab.txt from the training text: the special tokens, every character seen (bare
     and '##'), the most frequent words, then the most frequent word endings ('##...');
  3. BERT basic tokenization + WordPiece (as Hugging Face's BertTokenizer, lower-cased), [CLS] ...
     [SEP], cut at MAX_LEN tokens;
  4. a Hugging Face BertForSequenceClassification re-implemented in plain PyTorch (GELU erf,
     LayerNorm eps 1e-12, pooler tanh over [CLS], classifier), trained with padding attention
     masks (each batch padded to its longest sequence), AdamW, a fixed seed, and a penalty on
     intermediates (Q, K, V, scores, FFN intermediate, residual sums) beyond |x| = 6, so that the
     accelerator's Q4.16 words (range [-8, 8)) hold them;
  5. writes model.safetensors (F32, Hugging Face tensor names), config.json (with the head:
     num_labels, id2label), vocab.txt, test.jsonl (input_ids, attention_mask, label),
     test-text.jsonl (text, label) and metrics.json (float PyTorch accuracy on the test split).
"""
import argparse
import collections
import json
import math
import os
import random
import re
import struct
import time
import unicodedata

import torch

CATEGORIES = ["computers", "politics", "science", "songs-poems"]
FORTUNES_DIR = "/usr/share/games/fortunes"
MAX_LEN = 128
RANGE = 6.0  # intermediates beyond |x| = RANGE are penalised (Q4.16 saturates at 8)
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SHAPE = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)


# ---- data -------------------------------------------------------------------------------------
def read_fortunes(category):
    with open(os.path.join(FORTUNES_DIR, category), encoding="utf-8", errors="replace") as f:
        text = f.read()
    out = []
    for chunk in re.split(r"^%\s*$", text, flags=re.M):
        s = " ".join(chunk.split())
        if any(c.isalpha() for c in s):
            out.append(s)
    return out


def split_data(seed):
    rng = random.Random(seed)
    train, test, seen = [], [], set()
    for label, cat in enumerate(CATEGORIES):
        items = [s for s in read_fortunes(cat) if not (s in seen or seen.add(s))]
        rng.shuffle(items)
        cut = int(round(0.8 * len(items)))
        train += [(s, label) for s in items[:cut]]
        test += [(s, label) for s in items[cut:]]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


# ---- tokenizer (Hugging Face BertTokenizer, do_lower_case) ------------------------------------
def _is_punct(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return any(a <= cp <= b for a, b in [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
                                         (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
                                         (0x2B820, 0x2CEAF), (0xF900, 0xFAFF),
                                         (0x2F800, 0x2FA1F)])


def basic_tokenize(text):
    out = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or (c not in "\t\n\r" and unicodedata.category(c) in
                                       ("Cc", "Cf", "Co", "Cs")):
            continue
        if c in " \t\n\r" or unicodedata.category(c).startswith("Z"):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(" " + c + " ")
        else:
            out.append(c)
    text = unicodedata.normalize("NFD", "".join(out).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words = []
    for w in text.split():
        cur = ""
        for c in w:
            if _is_punct(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def build_vocab(texts, words_kept, endings_kept):
    words = collections.Counter(w for t in texts for w in basic_tokenize(t))
    chars = sorted({c for w in words for c in w})
    vocab = list(SPECIAL) + chars + ["##" + c for c in chars]
    have = set(vocab)
    added = 0
    for w, _ in words.most_common():
        if added >= words_kept:
            break
        if w not in have:
            vocab.append(w)
            have.add(w)
            added += 1
    endings = collections.Counter()
    for w, n in words.items():
        if w in have:
            continue
        for k in range(1, len(w)):
            if len(w) - k <= 6:
                endings["##" + w[k:]] += n
    for e, _ in endings.most_common(endings_kept):
        if e not in have:
            vocab.append(e)
            have.add(e)
    return vocab


def encode(text, ids):
    toks = [p for w in basic_tokenize(text) for p in wordpiece(w, ids)]
    return [ids["[CLS]"]] + [ids[t] for t in toks[:MAX_LEN - 2]] + [ids["[SEP]"]]


# ---- model (Hugging Face BertForSequenceClassification, eval semantics) -----------------------
class Bert(torch.nn.Module):
    def __init__(self, vocab_size, num_labels, hidden_size, num_hidden_layers, num_attention_heads,
                 intermediate_size):
        super().__init__()
        h, self.heads = hidden_size, num_attention_heads
        self.word = torch.nn.Embedding(vocab_size, h, padding_idx=0)
        self.pos = torch.nn.Embedding(MAX_LEN, h)
        self.tok_type = torch.nn.Embedding(2, h)
        self.emb_ln = torch.nn.LayerNorm(h, eps=1e-12)
        L = torch.nn.Linear
        self.layers = torch.nn.ModuleList()
        for _ in range(num_hidden_layers):
            self.layers.append(torch.nn.ModuleDict(dict(
                q=L(h, h), k=L(h, h), v=L(h, h), o=L(h, h),
                ln1=torch.nn.LayerNorm(h, eps=1e-12), up=L(h, intermediate_size),
                down=L(intermediate_size, h), ln2=torch.nn.LayerNorm(h, eps=1e-12))))
        self.pooler = L(h, h)
        self.classifier = L(h, num_labels)
        self.drop = torch.nn.Dropout(0.1)
        for m in self.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.word.weight[0].zero_()

    def forward(self, ids, mask):
        self.excess = []  # how far intermediates go past RANGE (the Q4.16 range penalty)
        b, s = ids.shape
        pos = torch.arange(s).unsqueeze(0)
        x = self.emb_ln(self.word(ids) + self.pos(pos) + self.tok_type(torch.zeros_like(ids)))
        x = self.drop(x)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        d = x.shape[-1] // self.heads
        for lay in self.layers:
            def split(t):
                return t.view(b, s, self.heads, d).transpose(1, 2)
            q, k, v = split(lay["q"](x)), split(lay["k"](x)), split(lay["v"](x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d)
            p = torch.softmax(scores + bias, dim=-1)
            ctx = (self.drop(p) @ v).transpose(1, 2).reshape(b, s, -1)
            res1 = x + self.drop(lay["o"](ctx))
            x = lay["ln1"](res1)
            up = lay["up"](x)
            ff = lay["down"](torch.nn.functional.gelu(up))
            res2 = x + self.drop(ff)
            x = lay["ln2"](res2)
            live = mask[:, None, :, None].bool() & mask[:, None, None, :].bool()
            self.excess += [q, k, v, scores.masked_fill(~live, 0), up, res1, res2]
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(self.drop(pooled))

    def hf_tensors(self):
        t = {"bert.embeddings.word_embeddings.weight": self.word.weight,
             "bert.embeddings.position_embeddings.weight": self.pos.weight,
             "bert.embeddings.token_type_embeddings.weight": self.tok_type.weight,
             "bert.embeddings.LayerNorm.weight": self.emb_ln.weight,
             "bert.embeddings.LayerNorm.bias": self.emb_ln.bias}
        names = dict(q="attention.self.query", k="attention.self.key", v="attention.self.value",
                     o="attention.output.dense", ln1="attention.output.LayerNorm",
                     up="intermediate.dense", down="output.dense", ln2="output.LayerNorm")
        for i, lay in enumerate(self.layers):
            for key, hf in names.items():
                t[f"bert.encoder.layer.{i}.{hf}.weight"] = lay[key].weight
                t[f"bert.encoder.layer.{i}.{hf}.bias"] = lay[key].bias
        t["bert.pooler.dense.weight"] = self.pooler.weight
        t["bert.pooler.dense.bias"] = self.pooler.bias
        t["classifier.weight"] = self.classifier.weight
        t["classifier.bias"] = self.classifier.bias
        return t


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def padded(batch):
    s = max(len(x) for x, _ in batch)
    ids = torch.tensor([x + [0] * (s - len(x)) for x, _ in batch])
    mask = torch.tensor([[1] * len(x) + [0] * (s - len(x)) for x, _ in batch])
    return ids, mask, torch.tensor([y for _, y in batch])


def accuracy(model, data):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(data), 64):
            ids, mask, y = padded(data[i:i + 64])
            right += int((model(ids, mask).argmax(-1) == y).sum())
    return right / len(data)


def train(model, data, epochs, lr, seed):
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(data) / 32)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / (0.1 * steps)) * max(0.0, 1 - k / steps))
    for ep in range(epochs):
        model.train()
        # Length buckets: batches of similar lengths (less padding), in a shuffled order.
        order = sorted(data, key=lambda xy: (len(xy[0]), rng.random()))
        starts = list(range(0, len(order), 32))
        rng.shuffle(starts)
        total = 0.0
        for i in starts:
            ids, mask, y = padded(order[i:i + 32])
            loss = torch.nn.functional.cross_entropy(model(ids, mask), y)
            # Keeps every intermediate inside the accelerator's Q4.16 range (|x| < 8): values
            # past RANGE cost their squared excess.
            loss = loss + sum(torch.relu(t.abs() - RANGE).pow(2).mean() for t in model.excess)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(y)
        print(f"epoch {ep + 1}: loss {total / len(order):.4f} ({time.process_time():.0f} s CPU)",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--words", type=int, default=3000)
    ap.add_argument("--endings", type=int, default=600)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)  # faster than 2 on a shared 2-core machine
    start = time.time()
    train_set, test_set = split_data(a.seed)
    vocab = build_vocab([t for t, _ in train_set], a.words, a.endings)
    ids = {t: i for i, t in enumerate(vocab)}
    tr = [(encode(t, ids), y) for t, y in train_set]
    te = [(encode(t, ids), y) for t, y in test_set]
    print(f"{len(tr)} train, {len(te)} test sequences, vocabulary {len(vocab)} "
          f"({time.time() - start:.0f} s)", flush=True)
    model = Bert(len(vocab), len(CATEGORIES), **SHAPE)
    train(model, tr, a.epochs, a.lr, a.seed)
    model.eval()
    acc = accuracy(model, te)
    print(f"test accuracy (float PyTorch, masks): {acc:.4f} on {len(te)} sequences")
    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), model.hf_tensors())
    cfg = dict(architectures=["BertForSequenceClassification"], model_type="bert",
               vocab_size=len(vocab), max_position_embeddings=MAX_LEN, type_vocab_size=2,
               hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0,
               hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
               initializer_range=0.02, num_labels=len(CATEGORIES),
               id2label={str(i): c for i, c in enumerate(CATEGORIES)},
               label2id={c: i for i, c in enumerate(CATEGORIES)},
               problem_type="single_label_classification", **SHAPE)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    with open(os.path.join(a.out, "test.jsonl"), "w") as f:
        for x, y in te:
            f.write(json.dumps(dict(input_ids=x, attention_mask=[1] * len(x), label=y)) + "\n")
    with open(os.path.join(a.out, "test-text.jsonl"), "w", encoding="utf-8") as f:
        for t, y in test_set:
            f.write(json.dumps(dict(text=t, label=y), ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(dict(test_accuracy=acc, test_sequences=len(te), train_sequences=len(tr),
                       vocab_size=len(vocab), epochs=a.epochs, seed=a.seed,
                       categories=CATEGORIES, torch=torch.__version__,
                       train_seconds=round(time.time() - start, 1)), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes testbench/fixtures/tokenizer/sentences.jsonl (one JSON string per line) and copies the
vocabulary there: 220 fortunes from Debian's `fortunes` files that the checkpoint was not trained
on (wisdom, people, definitions, literature; seeded pick, first 400 characters) plus edge cases of
BERT's basic tokenization (accents, CJK, Greek final sigma, control and format characters, odd
white space, punctuation, long words, digits, emoji) and special tokens written in the text.
Then the expected ids come from
tools/tokenizer_expected_ids.mjs (tokenizers.js):

    /usr/bin/python3 tools/make_tokenizer_fixture.py \\
        --vocab models/checkpoints/fortunes-bert-tiny/vocab.txt --out testbench/fixtures/tokenizer
"""
import argparse
import json
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fortunes_classifier import read_fortunes  # noqa: E402

EDGE_CASES = [
    "Hello, World!", "HELLO world", "  leading and trailing spaces  ", "tabs\tand\nnewlines\r\nhere",
    "Café, naïve résumé; ÉCOLE façade — coöperate", "Ångström Øresund Straße Ģirts",
    "ΟΔΟΣ οδος Σίσυφος ΣΊΣΥΦΟΣ", "中文字符测试 and English", "日本語のテキスト、カタカナ。",
    "한국어 텍스트", "emoji 😀 and 🎉 party", "zero\u200bwidth\u200djoiner\ufeffbom",
    "soft\u00adhyphen and non\u00a0breaking space", "em\u2003space and ideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator", "control\x07bell\x1bescape\x7fdel",
    "private\ue000use", "replacement \ufffd char", "don't can't won't it's", "e-mail: a.b@c.org",
    "http://www.example.com/path?q=1&r=2#frag", "$100.00, 50% off!!! (really?)",
    "«quoted» „German“ ‘single’ “double”", "¿Qué? ¡Sí!", "a…b–c—d", "3.14159 and 2,718 and 1e10",
    "x" * 101, "y" * 100, "supercalifragilisticexpialidocious", "unbelievably unpredictable",
    "C++ and C# and F#", "[brackets] {braces} <angles> |pipes|", "under_score and back\\slash",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ", "ﬁ ligature and ½ fraction", "İstanbul ıi", "Ǆemal ǅ",
    "Москва и Санкт-Петербург", "עברית ועוד", "العربية", "हिन्दी", "ไทย", "", "   ", ".",
]
# Special tokens written in the text: matched whole (case-sensitive) before normalisation.
SPECIAL_CASES = [
    "[CLS] a sentence with its own markers [SEP]", "first part [SEP] second part",
    "hello[SEP]world[SEP]", "fill the [MASK] in, please", "[PAD] [PAD] padding written out",
    "an [UNK] token and [unk] in lower case", "[cls] [Sep] [MASK ] are plain text",
    "[[CLS]] nested [ [SEP] ] brackets", "[CLS][SEP][PAD][MASK][UNK]", "Café[MASK]naïve",
    "[SEP]", "[MASK]s and [CLS]-like [SEPARATOR] words",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=200)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pool = []
    for cat in ["wisdom", "people", "definitions", "literature"]:
        pool += read_fortunes(cat)
    picked = [s[:400] for s in rng.sample(pool, 220)]
    os.makedirs(a.out, exist_ok=True)
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.txt"))
    with open(os.path.join(a.out, "sentences.jsonl"), "w", encoding="utf-8") as f:
        for s in picked + EDGE_CASES + SPECIAL_CASES:
            f.write(json.dumps(s) + "\n")


if __name__ == "__main__":
    main()

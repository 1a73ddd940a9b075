// Expected token ids for the tokenizer fixture (testbench/fixtures/tokenizer/), from Hugging
// Face's tokenizers.js: a BERT tokenizer.json (BertNormalizer lower-casing, BertPreTokenizer,
// WordPiece with "##" and max_input_chars_per_word 100, [CLS] $A [SEP]) built from a vocab.txt.
//
//   mkdir /tmp/tok && cd /tmp/tok && npm install @huggingface/tokenizers
//   NODE_PATH=/tmp/tok/node_modules node tools/tokenizer_expected_ids.mjs \
//     testbench/fixtures/tokenizer/vocab.txt testbench/fixtures/tokenizer/sentences.jsonl \
//     > testbench/fixtures/tokenizer/expected.jsonl
//
// sentences.jsonl: one JSON string per line. Output: one line per sentence,
// {"text": ..., "input_ids": [...]} with the special tokens, no truncation or padding.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + "/" : import.meta.url);
const { Tokenizer } = require("@huggingface/tokenizers");

const [vocabPath, sentencesPath] = process.argv.slice(2);
const tokens = readFileSync(vocabPath, "utf8").split("\n");
if (tokens[tokens.length - 1] === "") tokens.pop();
const vocab = {};
tokens.forEach((t, i) => { vocab[t] = i; });
const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter((t) => t in vocab);
const tokenizerJson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: special.map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false,
                                      rstrip: false, normalized: false, special: true })),
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true,
                strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
             { SpecialToken: { id: "[SEP]", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
           { SpecialToken: { id: "[SEP]", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } },
           { SpecialToken: { id: "[SEP]", type_id: 1 } }],
    special_tokens: Object.fromEntries(["[CLS]", "[SEP]"].map((t) => [t, { id: t, ids: [vocab[t]], tokens: [t] }])),
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##",
           max_input_chars_per_word: 100, vocab },
};
const tokenizerConfig = { do_lower_case: true, model_max_length: 512, tokenizer_class: "BertTokenizer",
                          cls_token: "[CLS]", sep_token: "[SEP]", pad_token: "[PAD]", unk_token: "[UNK]" };
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
for (const line of readFileSync(sentencesPath, "utf8").split("\n")) {
  if (line.trim() === "") continue;
  const text = JSON.parse(line);
  const enc = tokenizer.encode(text);
  process.stdout.write(JSON.stringify({ text, input_ids: enc.ids }) + "\n");
}

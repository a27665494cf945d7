// Validates an AsyncAPI document with the official parser (@asyncapi/parser from npm, the
// one AsyncAPI Studio and the generator use), for tests/compat/test_asyncapi.py. It owns
// only the parse and its report; it must not change the document or judge its content
// beyond what the parser's rules say.
//
// Usage: node validate_asyncapi.mjs <URL or file>
// Prints every diagnostic (severity, rule code, JSON path, message) on stderr and, on
// stdout, one JSON line {errors, warnings, version, operations, messages}. Exits 0 when the
// document parsed with no error or warning, 1 otherwise, 2 when it could not be read.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

// DiagnosticSeverity of the parser (Spectral): 0 error, 1 warning, 2 information, 3 hint.
const SEVERITY = ["error", "warning", "information", "hint"];

const source = process.argv[2];
if (!source) {
  console.error("usage: node validate_asyncapi.mjs <URL or file>");
  process.exit(2);
}

let text;
try {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`GET ${source}: ${response.status}`);
    text = await response.text();
  } else {
    text = await readFile(source, "utf8");
  }
} catch (err) {
  console.error(`cannot read ${source}: ${err.message}`);
  process.exit(2);
}

const parser = new Parser();
const { document, diagnostics } = await parser.parse(text, { source });
for (const d of diagnostics) {
  console.error(
    `${SEVERITY[d.severity] ?? d.severity} ${d.code} at ${d.path.join(".") || "/"}: ${d.message}`,
  );
}
const count = (severity) => diagnostics.filter((d) => d.severity === severity).length;
const summary = {
  errors: count(0),
  warnings: count(1),
  version: document ? document.version() : null,
  operations: document ? document.operations().length : 0,
  messages: document ? document.messages().length : 0,
};
process.stdout.write(JSON.stringify(summary) + "\n");
process.exit(document && summary.errors === 0 && summary.warnings === 0 ? 0 : 1);

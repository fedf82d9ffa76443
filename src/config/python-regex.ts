// Application service registrations write their namespace regexes in Python's `re` dialect
// (Synapse, which defined the format, compiles them with Python; mautrix-python writes them with
// `re.escape()`, which escapes `#`, `-`, spaces and more). This turns such a pattern into the
// JavaScript one that means the same, or says why it cannot.
//
// Handled: escapes of characters that need none (`\#`, `\-`, `\ `, `\:`...), `\A`, `\Z`,
// named groups `(?P<name>...)` and `(?P=name)`, and inline flags at the start (`(?i)`, `(?s)`,
// `(?m)`, `(?x)` is refused). Everything else is passed on and then compiled by JavaScript, whose
// error is reported if the pattern is still not valid.

/** Characters an escape keeps its meaning for in a JavaScript `u` regex. */
const SYNTAX = new Set([..."^$\\.*+?()[]{}|/"]);
/** Escapes with a meaning (classes, anchors, control characters, code points, back references). */
const MEANINGFUL = /[dDwWsSbBnrtfv0-9xuck]/;

export interface JsRegex { source: string; flags: string }

export function fromPythonRegex(src: string): JsRegex {
  let flags = "";
  let i = 0;
  // Leading inline flags: (?i), (?is), ...
  const lead = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === "i" || f === "m" || f === "s") { if (!flags.includes(f)) flags += f; } else if (f !== "u") throw new Error(`the inline flag (?${f}) has no JavaScript equivalent`);
    }
    i = lead[0].length;
  }
  let out = "";
  let inClass = false;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\\") {
      const n = src[i + 1];
      if (n === undefined) throw new Error("the pattern ends with a lone backslash");
      i += 2;
      if (n === "A" && !inClass) { out += "^"; continue; }
      if (n === "Z" && !inClass) { out += "$"; continue; }
      if (SYNTAX.has(n) || MEANINGFUL.test(n)) { out += `\\${n}`; continue; }
      if (n === "-" && inClass) { out += "\\-"; continue; }
      if (/[A-Za-z]/.test(n)) throw new Error(`\\${n} has no JavaScript equivalent`);
      out += n; // an escaped character that needs no escape: itself
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      i++;
      // A ']' first in a class is literal in Python.
      if (src[i] === "^") { out += "^"; i++; }
      if (src[i] === "]") { out += "\\]"; i++; }
      continue;
    }
    if (src.startsWith("(?P<", i)) { out += "(?<"; i += 4; continue; }
    if (src.startsWith("(?P=", i)) {
      const end = src.indexOf(")", i);
      if (end < 0) throw new Error("unterminated (?P=name)");
      out += `\\k<${src.slice(i + 4, end)}>`;
      i = end + 1;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags };
}

/** The JavaScript RegExp for a registration's pattern (Python dialect), with the `u` flag. */
export function compilePythonRegex(src: string, anchor = false): RegExp {
  const { source, flags } = fromPythonRegex(src);
  return new RegExp(anchor ? `^(?:${source})` : source, `u${flags}`);
}

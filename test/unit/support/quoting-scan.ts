// Finds remote commands that were not built with sh``: an exec whose command is a plain string
// (a literal, a concatenation, an array joined, or a name bound to a plain string in the same file),
// and shellScript() fed a template literal with ${} in it (values must go through sh``).
// A small lexer rather than regexes over lines, so strings, comments and regex literals are skipped.

export interface Violation {
  file: string;
  line: number;
  call: string;
  arg: string;
}

/**
 * For each character: whether it is code (not comment, regex, or the inside of a string or template
 * literal; an opening quote or backtick counts as code), and how many template literals enclose it.
 */
function codeMask(src: string): { code: boolean[]; level: number[] } {
  const code = new Array<boolean>(src.length).fill(false);
  const level = new Array<number>(src.length).fill(0);
  // Stack of what we are inside: "code" at the top level and within ${...}, "tpl" within a template literal.
  const stack: ("code" | "tpl")[] = ["code"];
  const braces: number[] = [0];
  let i = 0;
  // A "/" starts a regex literal unless it follows a value (a name, a number, ")", "]", a string).
  const regexCanStart = () => {
    let j = i - 1;
    while (j >= 0 && (!code[j] || /\s/.test(src[j]!))) j--;
    if (j < 0) return true;
    if (/[\w$]/.test(src[j]!)) return /\b(return|typeof|case|of|in|void|throw|yield|await)$/.test(src.slice(Math.max(0, j - 9), j + 1));
    return !/[)\]'"`]/.test(src[j]!);
  };
  while (i < src.length) {
    const c = src[i]!;
    const top = stack[stack.length - 1];
    if (top === "tpl") {
      if (c === "\\") i += 2;
      else if (c === "`") {
        stack.pop();
        i++;
      } else if (c === "$" && src[i + 1] === "{") {
        stack.push("code");
        braces.push(0);
        i += 2;
      } else i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      code[i] = true;
      level[i] = stack.filter((s) => s === "tpl").length;
      i++;
      while (i < src.length && src[i] !== c && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
      i++;
      continue;
    }
    if (c === "`") {
      code[i] = true;
      level[i] = stack.filter((s) => s === "tpl").length;
      stack.push("tpl");
      i++;
      continue;
    }
    if (c === "/" && regexCanStart()) {
      i++;
      let inClass = false;
      while (i < src.length && src[i] !== "\n") {
        const d = src[i]!;
        if (d === "\\") i += 2;
        else {
          if (d === "[") inClass = true;
          else if (d === "]") inClass = false;
          else if (d === "/" && !inClass) break;
          i++;
        }
      }
      i++;
      while (/[a-z]/.test(src[i] ?? "")) i++;
      continue;
    }
    if (c === "{") braces[braces.length - 1]!++;
    if (c === "}") {
      if (braces[braces.length - 1] === 0 && stack.length > 1) {
        stack.pop();
        braces.pop();
        i++;
        continue;
      }
      braces[braces.length - 1]!--;
    }
    code[i] = true;
    level[i] = stack.filter((s) => s === "tpl").length;
    i++;
  }
  return { code, level };
}

/**
 * The first argument of the call whose "(" is at `open`, up to the top-level "," or ")": its text,
 * and its skeleton (only the code at the call's own level, literals' insides blanked).
 */
function firstArgument(src: string, mask: { code: boolean[]; level: number[] }, open: number): { text: string; skeleton: string } {
  const own = mask.level[open];
  let depth = 0;
  let skeleton = "";
  let i = open + 1;
  for (; i < src.length; i++) {
    const c = src[i]!;
    if (!mask.code[i] || mask.level[i] !== own) {
      skeleton += " ";
      continue;
    }
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) {
      if (depth === 0) break;
      depth--;
    } else if (c === "," && depth === 0) break;
    skeleton += depth === 0 || "([{".includes(c) ? c : " ";
  }
  return { text: src.slice(open + 1, i).trim(), skeleton: skeleton.trim() };
}

const lineOf = (src: string, at: number) => src.slice(0, at).split("\n").length;

/** Whether the argument is a plain string made in this file (a literal, a concatenation, a joined array, a name bound to one). */
function plainString(arg: { text: string; skeleton: string }, src: string, at: number): boolean {
  if (/^[`'"[]/.test(arg.text) || arg.text.startsWith("String.raw`")) return true;
  if (/\+/.test(arg.skeleton)) return true;
  const name = /^[A-Za-z_$][\w$]*$/.exec(arg.text)?.[0];
  if (!name) return false;
  // The nearest declaration of that name before the call: a literal, or a choice between literals.
  const decls = [...src.slice(0, at).matchAll(new RegExp(`\\b(?:const|let|var)\\s+${name.replace(/\$/g, "\\$")}\\s*(?::\\s*string\\s*)?=\\s*([\\s\\S]{0,200})`, "g"))];
  const value = decls.at(-1)?.[1]?.replace(/\/\/[^\n]*\n|\/\*[\s\S]*?\*\//g, "");
  return value !== undefined && /^(?:[\w$.!()]+\s*\?\s*)?(?:[`'"[]|String\.raw`)/.test(value);
}

export function scanSource(file: string, src: string): Violation[] {
  const mask = codeMask(src);
  const found: Violation[] = [];
  for (const m of src.matchAll(/(?<![\w$])(exec|shellScript)\s*\(/g)) {
    const at = m.index!;
    if (!mask.code[at]) continue;
    // A RegExp's exec (`/re/.exec(s)`, `PATTERN.exec(s)`) takes text to match, not a command.
    const before = src.slice(Math.max(0, at - 40), at);
    if (m[1] === "exec" && (/\/[a-z]*\.\s*$/.test(before) || /(?:^|[^\w$])[A-Z][A-Z0-9_]*\.\s*$/.test(before))) continue;
    // Declarations (`exec(cmd: ...)`, `async exec(...) {`) are not calls.
    if (/(?:async\s+|function\s+|^\s*)$/.test(before.split("\n").pop()!) && /^\s*\w*\s*\(\s*\w+\s*[:?)]/.test(src.slice(at + m[1]!.length))) continue;
    const open = at + m[0].length - 1;
    const arg = firstArgument(src, mask, open);
    const bad = m[1] === "exec" ? plainString(arg, src, at) : /^(?:String\.raw)?`[\s\S]*\$\{/.test(arg.text);
    if (bad) found.push({ file, line: lineOf(src, at), call: m[1]!, arg: arg.text.split("\n")[0]!.slice(0, 100) });
  }
  return found;
}

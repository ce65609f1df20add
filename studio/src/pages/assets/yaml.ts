// A small YAML writer for showing documents (a conda file, a whole asset version) the way users
// wrote them; display only, never parsed back.
type Value = unknown;

const PLAIN = /^[A-Za-z0-9_./@+=<>~^*-][A-Za-z0-9_./@+=<>~^* :,'()-]*$/;

function scalar(v: Value): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const s = String(v);
  if (s === "" || !PLAIN.test(s) || /: |\s$|^(true|false|null|yes|no|~|[0-9.eE+-]+)$/i.test(s)) {
    return JSON.stringify(s);
  }
  return s;
}

function isObject(v: Value): v is Record<string, Value> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function lines(v: Value, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return [`${indent}[]`];
    return v.flatMap((item) => {
      if (isObject(item) || Array.isArray(item)) {
        const inner = lines(item, indent + "  ");
        if (inner.length === 0) return [`${indent}- {}`];
        return [`${indent}- ${inner[0].trimStart()}`, ...inner.slice(1)];
      }
      if (typeof item === "string" && item.includes("\n")) return block(item, `${indent}- `, indent + "  ");
      return [`${indent}- ${scalar(item)}`];
    });
  }
  if (isObject(v)) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    return entries.flatMap(([k, x]) => {
      const key = `${indent}${scalar(k)}:`;
      if ((isObject(x) && Object.keys(x).length) || (Array.isArray(x) && x.length)) {
        return [key, ...lines(x, indent + "  ")];
      }
      if (isObject(x)) return [`${key} {}`];
      if (Array.isArray(x)) return [`${key} []`];
      if (typeof x === "string" && x.includes("\n")) return block(x, `${key} `, indent + "  ");
      return [`${key} ${scalar(x)}`];
    });
  }
  return [`${indent}${scalar(v)}`];
}

function block(text: string, head: string, indent: string): string[] {
  return [`${head}|`, ...text.replace(/\n$/, "").split("\n").map((l) => indent + l)];
}

export function toYaml(v: Value): string {
  return lines(v, "").join("\n");
}

// DOM and text helpers. Every user-supplied name (run, dataset, layer, quantity, class) reaches
// the page only through textContent / setAttribute here, or through plotlyText() for Plotly,
// which renders a subset of HTML inside its strings.

/**
 * Creates an element. `attrs` are set with setAttribute (safe for any value), `text` goes
 * through textContent, and `children` are appended in order (strings become text nodes).
 */
export function el(tag, { attrs = {}, text, className, children = [] } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Removes every child of `node`. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

const PLOTLY_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;" };

/**
 * Makes a user string safe to hand to Plotly as a trace name, category, title or hover text.
 * Plotly parses a few HTML tags and entities (and `$...$` as TeX) in such strings; the entities
 * produced here are decoded back by Plotly, so the name shows literally.
 */
export function plotlyText(value) {
  return String(value).replace(/[&<>$]/g, (ch) => PLOTLY_ESCAPES[ch]);
}

/** A short, single-line description of an error for display (never HTML). */
export function errorText(error) {
  const message = error && error.message ? error.message : String(error);
  return message.split("\n")[0].slice(0, 300);
}

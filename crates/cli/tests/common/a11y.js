// An accessibility check run in the page by the console's tests: landmarks, a language and
// a title, a label for every form control, a name for every button and link, and text
// contrast (WCAG 2 AA: 4.5:1, 3:1 for large text). Returns the violations found.
const problems = [];
const visible = (el) => {
  const s = getComputedStyle(el);
  return s.display !== "none" && s.visibility !== "hidden" && el.getClientRects().length > 0;
};
if (!document.documentElement.lang) problems.push("html has no lang");
if (!document.title.trim()) problems.push("the page has no title");
for (const landmark of ["header", "nav", "main"]) {
  if (!document.querySelector(landmark)) problems.push(`no <${landmark}> landmark`);
}
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden" || !visible(el)) continue;
  const labelled = el.getAttribute("aria-label") || el.closest("label")
    || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
  if (!labelled) problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.id || el.name || el.outerHTML.slice(0, 60)}`);
}
for (const el of document.querySelectorAll("button, a[href]")) {
  if (!visible(el)) continue;
  if (!(el.textContent.trim() || el.getAttribute("aria-label"))) {
    problems.push(`${el.tagName.toLowerCase()} without a name: ${el.outerHTML.slice(0, 80)}`);
  }
}
const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const c = [r, g, b].map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const seen = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || !visible(el) || seen.has(el)) continue;
  if (el.closest("option, script, style")) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  const fg = rgb(style.color).slice(0, 3);
  const l1 = luminance(fg);
  const l2 = luminance(background(el));
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) {
    problems.push(`contrast ${ratio.toFixed(2)}:1 for "${node.textContent.trim().slice(0, 40)}"`);
  }
}
return problems;

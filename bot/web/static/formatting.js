// WhatsApp's formatting marks (*bold*, _italic_, ~strike~, ```mono```), read by the
// rules of bot/formatting.py: the same results, character for character
// (tests/browser/test_formatting.py compares the two). Used by the segment counter
// (SMS gets the text without the marks) and the simulator (drawn as a phone shows them).
// Works on code points, as Python does, so an emoji counts as one character.
"use strict";
(function () {
  const MARKS = { "*": "bold", "_": "italic", "~": "strike", "```": "mono" };
  const STYLE_TAGS = { bold: "strong", italic: "em", strike: "s", mono: "code" };
  const ORDER = ["bold", "italic", "strike", "mono"];
  const SPACE_CLASS = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const SPACE = new RegExp("^[" + SPACE_CLASS + "]$", "u");
  const WORD = /^[\p{L}\p{N}\p{M}]$/u;
  const LINK = new RegExp("(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\\.)[^" + SPACE_CLASS + "]*" +
    "[^" + SPACE_CLASS + "*_~`.,;:!?)\\]'\"]", "gu");
  const EMAIL = /[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/gu;

  const isSpace = (c) => SPACE.test(c);
  const isWord = (c) => WORD.test(c);

  function Parser(text) {
    const chars = Array.from(text);
    const n = chars.length;
    const at = (i, mark) => { for (let k = 0; k < mark.length; k++) if (chars[i + k] !== mark[k]) return false; return true; };
    // code point index of each UTF-16 offset where a character starts
    const index = new Map();
    let offset = 0;
    chars.forEach((c, i) => { index.set(offset, i); offset += c.length; });
    index.set(offset, n);
    const guarded = new Array(n).fill(false);
    for (const pattern of [LINK, EMAIL]) {
      for (const m of text.matchAll(pattern)) {
        const end = index.get(m.index + m[0].length);
        for (let i = index.get(m.index); i < end; i++) guarded[i] = true;
      }
    }
    const anyGuarded = (i, w) => { for (let k = i; k < i + w; k++) if (guarded[k]) return true; return false; };
    const breaks = [];
    chars.forEach((c, i) => { if (c === "\n" || c === "\r") breaks.push(i); });
    const opens = (i, mark) => {
      const after = i + mark.length;
      return !anyGuarded(i, mark.length) && (i === 0 || !isWord(chars[i - 1])) &&
        after < n && !isSpace(chars[after]);
    };
    const closes = (i, mark) => {
      const after = i + mark.length;
      return i > 0 && !anyGuarded(i, mark.length) && !isSpace(chars[i - 1]) &&
        (after === n || !isWord(chars[after]));
    };
    const closers = {};
    for (const mark of Object.keys(MARKS)) {
      closers[mark] = [];
      for (let i = 0; i + mark.length <= n; i++) if (at(i, mark) && closes(i, mark)) closers[mark].push(i);
    }
    const firstAtLeast = (list, value) => {
      let lo = 0, hi = list.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid] < value) lo = mid + 1; else hi = mid; }
      return lo;
    };
    const closer = (content, end, mark) => {
      const list = closers[mark], k = firstAtLeast(list, content + 1);
      if (k === list.length || list[k] + mark.length > end) return null;
      const b = firstAtLeast(breaks, content);
      if (b < breaks.length && breaks[b] < list[k]) return null;
      return list[k];
    };
    const lonely = [];
    function pairs(start, end) {
      const found = [];
      let i = start;
      while (i < end) {
        const mark = at(i, "```") ? "```" : chars[i];
        if (mark in MARKS && opens(i, mark)) {
          const j = closer(i + mark.length, end, mark);
          if (j !== null) {
            found.push({ opens: i, closes: j, mark });
            if (mark !== "```") found.push(...pairs(i + mark.length, j));
            i = j + mark.length;
            continue;
          }
          lonely.push([i, mark]);
        }
        i += 1;
      }
      return found;
    }
    return { chars, lonely, pairs: () => pairs(0, n) };
  }

  // [{text, styles: ["bold", …]}]: the text as WhatsApp shows it, marks removed.
  function spans(text) {
    const parser = Parser(text), chars = parser.chars;
    const hidden = new Array(chars.length).fill(false);
    const styles = chars.map(() => new Set());
    for (const p of parser.pairs()) {
      for (let k = 0; k < p.mark.length; k++) { hidden[p.opens + k] = true; hidden[p.closes + k] = true; }
      for (let k = p.opens + p.mark.length; k < p.closes; k++) styles[k].add(MARKS[p.mark]);
    }
    const runs = [];
    chars.forEach((c, i) => {
      if (hidden[i]) return;
      const style = ORDER.filter((s) => styles[i].has(s));
      const last = runs[runs.length - 1];
      if (last && last.styles.join() === style.join()) last.text += c;
      else runs.push({ text: c, styles: style });
    });
    return runs;
  }
  function plain(text) {
    while (/[*_~`]/.test(text)) {
      const shown = spans(text).map((s) => s.text).join("");
      if (shown === text) break;
      text = shown;
    }
    return text;
  }
  function forChannel(text, channel) { return channel === "whatsapp" ? text : plain(text); }
  function unclosed(text) {
    const parser = Parser(text);
    parser.pairs();
    return parser.lonely.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  }
  // Append ``text`` to ``element`` as a phone shows it, in DOM nodes (never HTML):
  // WhatsApp draws the formatting; an SMS shows its text as it arrived.
  function render(element, text, channel) {
    if (channel !== "whatsapp") { element.appendChild(document.createTextNode(text)); return; }
    for (const span of spans(text)) {
      let node = document.createTextNode(span.text);
      for (const style of span.styles.slice().reverse()) {
        const wrap = document.createElement(STYLE_TAGS[style]);
        wrap.appendChild(node);
        node = wrap;
      }
      element.appendChild(node);
    }
  }
  window.PuenteFormatting = { spans, plain, forChannel, unclosed, render };
})();

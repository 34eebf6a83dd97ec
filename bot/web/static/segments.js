// Live SMS segment counts: the same rules as bot/text.py (Twilio's calculator),
// counted on the text SMS gets, without WhatsApp's *bold* and _italic_ marks
// (formatting.js, loaded before this file; bot.broadcasts.broadcast.sms_segments_of).
// A <textarea data-segments="ID"> updates the element #ID as the organizer types.
// Translated texts come from that element's data-* attributes. With data-link-length,
// each http(s) link counts as a short link of that length (bot/links/codes.py), unless
// the box #links_as_written is ticked.
"use strict";
(function () {
  const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const EXTENSION = "\f^{}\\[~]|€";
  const LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };
  const segmenter = window.Intl && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

  function clusters(text) {
    if (segmenter) return Array.from(segmenter.segment(text), (s) => s.segment);
    return Array.from(text);
  }
  function isGsm7(cluster) {
    for (const ch of cluster) { if (!BASIC.includes(ch) && !EXTENSION.includes(ch)) return false; }
    return true;
  }
  function countSegments(sizes, single, multi) {
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total === 0) return 0;
    if (total <= single) return 1;
    let segments = 1, used = 0;
    for (const size of sizes) {
      if (used + size > multi) { segments += 1; used = 0; }
      used += size;
    }
    return segments;
  }
  function smsSegments(text) {
    const parts = clusters(text);
    const ucs2 = [...new Set(parts.filter((c) => !isGsm7(c)))];
    const encoding = ucs2.length ? "UCS-2" : "GSM-7";
    const sizes = parts.map((c) => (ucs2.length ? c.length : (EXTENSION.includes(c) ? 2 : 1)));
    return { encoding, characters: parts.length, units: sizes.reduce((a, b) => a + b, 0),
             segments: countSegments(sizes, ...LIMITS[encoding]), ucs2Chars: ucs2 };
  }
  // A link and its end as bot/links/codes.py finds them (trailing punctuation stays out).
  const LINK = /(?<![\w@.])https?:\/\/[^\s<>"]*[^\s<>".,;:!?'»”’*)\]}]/gi;
  function asSent(area) {
    const length = Number(area.dataset.linkLength || 0);
    const asWritten = document.getElementById("links_as_written");
    if (!length || (asWritten && asWritten.checked)) return area.value;
    return area.value.replace(LINK, "x".repeat(length));
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? values[key] : m));
  }
  function update(area) {
    const out = document.getElementById(area.dataset.segments);
    if (!out) return;
    const info = smsSegments(window.PuenteFormatting.plain(asSent(area)));
    const d = out.dataset;
    const summary = fill(d.summary || "{segments} segments · {characters} characters · {encoding}", info);
    out.querySelector(".summary") ? (out.querySelector(".summary").textContent = summary) : (out.textContent = summary);
    out.classList.toggle("warn", info.encoding === "UCS-2" || info.segments > 2);
    const warning = document.getElementById(area.dataset.segments + "-warning");
    if (warning) {
      warning.hidden = info.encoding !== "UCS-2";
      warning.textContent = fill(d.warning || "{chars}", { chars: info.ucs2Chars.join(" ") });
    }
    area.dispatchEvent(new CustomEvent("segments", { detail: info, bubbles: true }));
  }
  window.PuenteSegments = { smsSegments };
  document.querySelectorAll("textarea[data-segments]").forEach((area) => {
    area.addEventListener("input", () => update(area));
    update(area);
  });
  const asWritten = document.getElementById("links_as_written");
  if (asWritten) {
    asWritten.addEventListener("change", () =>
      document.querySelectorAll("textarea[data-segments]").forEach(update));
  }
})();

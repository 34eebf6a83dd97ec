// The compose form: a live audience count as the filters change.
// Only the audience fields are sent (never the message texts), as a GET of filters.
"use strict";
(function () {
  const fieldset = document.getElementById("audience");
  const box = document.getElementById("audience-box");
  if (!fieldset || !box) return;
  let timer = null, latest = 0;

  function query() {
    const params = new URLSearchParams();
    fieldset.querySelectorAll("input, select").forEach((el) => {
      if (!el.name || el.name === "save_audience" || el.disabled) return;
      if (el.type === "checkbox" || el.type === "radio") { if (el.checked) params.append(el.name, el.value); }
      else if (el.multiple) { Array.from(el.selectedOptions).forEach((o) => params.append(el.name, o.value)); }
      else if (el.value) { params.append(el.name, el.value); }
    });
    return params.toString();
  }
  async function refresh() {
    const ticket = ++latest;
    box.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(fieldset.dataset.url + "?" + query(), { headers: { "Accept": "text/html" } });
      if (ticket === latest && response.ok) box.innerHTML = await response.text();
    } finally {
      if (ticket === latest) box.removeAttribute("aria-busy");
    }
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
  fieldset.addEventListener("change", later);
  fieldset.addEventListener("input", later);
  const saved = document.getElementById("audience-saved");
  if (saved) {
    const toggle = () => fieldset.querySelectorAll("input, select").forEach((el) => {
      if (el !== saved && el.name !== "channel_order" && el.name !== "save_audience") el.disabled = !!saved.value;
    });
    saved.addEventListener("change", toggle);
    toggle();
  }
  refresh();
})();

// The phone simulator's WhatsApp buttons and lists, drawn the way a phone shows them.
// A message sent with a content (quick replies or a list picker) gets its buttons under
// the bubble; a list gets one button that opens its rows. Tapping sends what WhatsApp
// sends: the title as Body, with ButtonPayload/ButtonText or ListId/ListTitle.
"use strict";

function interactiveBlock(form, tapped) {
  const box = document.createElement("div");
  box.className = "wa-actions";
  if (form.kind === "quick_reply") {
    form.options.forEach((option) => {
      box.appendChild(waButton(option.title, () => tapped(option.title, {
        ButtonPayload: option.id, ButtonText: option.title, MessageType: "button" })));
    });
    return box;
  }
  const rows = document.createElement("div");
  rows.className = "wa-list"; rows.hidden = true; rows.setAttribute("role", "listbox");
  form.options.forEach((option) => {
    const row = waButton(option.title, () => { rows.hidden = true; tapped(option.title, {
      ListId: option.id, ListTitle: option.title, MessageType: "interactive" }); });
    row.className = "wa-row"; row.setAttribute("role", "option");
    if (option.description) {
      const more = document.createElement("small");
      more.textContent = option.description; row.appendChild(more);
    }
    rows.appendChild(row);
  });
  const opener = waButton("☰ " + form.button, () => { rows.hidden = !rows.hidden; });
  opener.setAttribute("aria-expanded", "false");
  opener.addEventListener("click", () => opener.setAttribute("aria-expanded", String(!rows.hidden)));
  box.appendChild(opener); box.appendChild(rows);
  return box;
}

function waButton(title, onClick) {
  const button = document.createElement("button");
  button.type = "button"; button.className = "wa-button"; button.textContent = title;
  button.addEventListener("click", onClick);
  return button;
}

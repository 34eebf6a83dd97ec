// A live broadcast's progress: the panel is fetched again every 2 seconds while
// it is sending (and while Twilio's delivery receipts still come in), then the
// page reloads once to show the buttons that fit its new state.
"use strict";
(function () {
  function poll() {
    const panel = document.getElementById("progress-panel");
    if (!panel || panel.dataset.live !== "true") return;
    setTimeout(async () => {
      try {
        const response = await fetch(panel.dataset.url, { headers: { "Accept": "text/html" } });
        if (response.ok) {
          const holder = document.createElement("div");
          holder.innerHTML = await response.text();
          const fresh = holder.querySelector("#progress-panel");
          panel.replaceWith(fresh);
          if (fresh.dataset.live !== "true") { window.location.reload(); return; }
        }
      } catch (e) { /* offline for a moment: try again */ }
      poll();
    }, 2000);
  }
  poll();
})();

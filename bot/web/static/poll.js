// A broadcast's poll: the panel is fetched again every 10 seconds while answers
// can still come in (a day after the broadcast finished), so the tally stays live.
"use strict";
(function () {
  function poll() {
    const panel = document.getElementById("poll-panel");
    if (!panel || panel.dataset.live !== "true") return;
    setTimeout(async () => {
      try {
        const response = await fetch(panel.dataset.url, { headers: { "Accept": "text/html" } });
        if (response.ok) {
          const holder = document.createElement("div");
          holder.innerHTML = await response.text();
          const fresh = holder.querySelector("#poll-panel");
          if (fresh) panel.replaceWith(fresh);
        }
      } catch (e) { /* offline for a moment: try again */ }
      poll();
    }, 10000);
  }
  poll();
})();

// signage fleet: keep the live part of a page current with server-sent events.
// The server renders the HTML (escaped by Jinja2); we only swap it in.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var source = null;
  function connect() {
    source = new EventSource(live.getAttribute("data-live"));
    source.addEventListener("live", function (event) {
      if (event.data) { live.innerHTML = event.data; live.setAttribute("data-updated", String(Date.now())); }
    });
    source.onerror = function () {
      live.classList.add("stale");  // EventSource reconnects by itself
    };
    source.onopen = function () { live.classList.remove("stale"); };
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
})();

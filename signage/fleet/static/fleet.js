// signage fleet: keep the live part of a page current with server-sent events (live.py).
// The server renders the HTML (escaped by Jinja2); we only swap it in: the whole fragment
// ("live"), or the parts that changed ("patch": {part name: HTML}).
(function () {
  "use strict";
  // "… ago" from the server's clock (the page says what time it was there when it was made).
  var skew = (Date.parse(document.body.getAttribute("data-now")) || Date.now()) - Date.now();
  function agoText(milliseconds) {
    var seconds = Math.max(0, Math.floor(milliseconds / 1000));
    var units = [["d", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) { return Math.floor(seconds / units[i][1]) + " " + units[i][0] + " ago"; }
    }
    return seconds + " s ago";
  }
  function showAgo() {
    document.querySelectorAll("time.ago").forEach(function (time) {
      var when = Date.parse(time.getAttribute("datetime"));
      if (!isNaN(when)) { time.textContent = agoText(Date.now() + skew - when); }
    });
  }
  showAgo();
  window.setInterval(showAgo, 5000);

  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var source = new EventSource(live.getAttribute("data-live"));
  function updated() { showAgo(); live.setAttribute("data-updated", String(Date.now())); }
  // The whole fragment. Its first event repeats what the page was made with: parts that
  // did not change stay in place, so a button being clicked or a choice being made is not
  // swapped away from under the person.
  source.addEventListener("live", function (event) {
    if (!event.data) { return; }
    var fresh = document.createElement("template");
    fresh.innerHTML = event.data;
    var shown = live.querySelectorAll("[data-part]"), parts = fresh.content.querySelectorAll("[data-part]");
    var same = shown.length > 0 && shown.length === parts.length;
    for (var i = 0; same && i < shown.length; i++) {
      same = shown[i].getAttribute("data-part") === parts[i].getAttribute("data-part");
    }
    if (!same) {
      live.innerHTML = event.data;
    } else {
      for (i = 0; i < shown.length; i++) {
        if (!shown[i].isEqualNode(parts[i])) { shown[i].replaceWith(parts[i]); }
      }
    }
    updated();
  });
  source.addEventListener("patch", function (event) {
    var changed = JSON.parse(event.data);
    live.querySelectorAll("[data-part]").forEach(function (part) {
      var name = part.getAttribute("data-part");
      if (Object.prototype.hasOwnProperty.call(changed, name)) { part.outerHTML = changed[name]; }
    });
    updated();
  });
  // The session ended (logout, expiry) or the screen is gone: go where the server says.
  source.addEventListener("end", function (event) {
    source.close();
    window.location.assign(event.data || "/");
  });
  source.addEventListener("stale", function () { live.classList.add("stale"); });
  source.addEventListener("fresh", function () { live.classList.remove("stale"); });
  source.onerror = function () { live.classList.add("stale"); };  // EventSource reconnects by itself
  source.onopen = function () { live.classList.remove("stale"); };
  window.addEventListener("pagehide", function () { source.close(); });
})();

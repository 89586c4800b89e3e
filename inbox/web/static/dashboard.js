// The dashboard's own script: the viewer's zone for the server, the CSRF header on htmx's requests, and the chat
// box emptied once its line is sent. No inline scripts (the page's Content-Security-Policy forbids them).
(function () {
  "use strict";
  var ZONE_COOKIE = "inbox_tz";

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  // Times are rendered on the server in the zone this cookie names; the first visit learns it and shows the page
  // again in it.
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && cookie(ZONE_COOKIE) !== zone) {
    var first = cookie(ZONE_COOKIE) === null;
    document.cookie = ZONE_COOKIE + "=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict";
    if (first && document.body.dataset.zone !== zone) location.reload();
  }

  document.addEventListener("htmx:config:request", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) evt.detail.ctx.request.headers["X-CSRF-Token"] = meta.content;
  });

  document.addEventListener("htmx:after:request", function (evt) {
    var ctx = evt.detail.ctx;
    var form = ctx && ctx.sourceElement;
    if (form && form.matches && form.matches("form[data-reset]") && ctx.response && ctx.response.status < 400) {
      form.reset();
    }
  });

  // The chat shows its newest line; when a new one arrives (an answer, a poll), it comes into view.
  var newest = null;
  function showNewest() {
    var lines = document.querySelectorAll("#chat-log > li");
    var last = lines[lines.length - 1];
    if (last && last.id !== newest) {
      newest = last.id;
      last.scrollIntoView({block: "end"});
    }
  }
  document.addEventListener("DOMContentLoaded", showNewest);
  document.addEventListener("htmx:after:swap", showNewest);

  // Enter sends a chat line; Shift+Enter starts a new one.
  document.addEventListener("keydown", function (evt) {
    var box = evt.target;
    if (evt.key === "Enter" && !evt.shiftKey && box.matches && box.matches("form.send textarea")) {
      evt.preventDefault();
      box.form.requestSubmit();
    }
  });
})();

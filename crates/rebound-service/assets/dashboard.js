// Rebound dashboard: reloads the page every N seconds (the body's
// data-refresh), keeping its URL and so its filters. It waits while the
// tab is hidden or a form field has focus (someone is choosing a filter),
// and reloads at once when the tab comes back after a missed refresh.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!(seconds > 0)) {
    return;
  }
  var due = Date.now() + seconds * 1000;
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
  }
  function tick() {
    if (Date.now() >= due && !document.hidden && !busy()) {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  window.setTimeout(tick, 1000);
  // Selecting a filter submits the form: no button to find on a phone.
  var forms = document.querySelectorAll("form[data-autosubmit]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("change", function () {
      form.submit();
    });
  });
})();

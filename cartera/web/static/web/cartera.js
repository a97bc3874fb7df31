// Cartera's only script besides htmx: confirmation before destructive buttons.
// Kept in a static file so the Content-Security-Policy can forbid inline scripts.
document.addEventListener("submit", function (event) {
  const button = event.submitter;
  const message = button && button.dataset ? button.dataset.confirm : null;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Folded filters (the customer list) open by themselves where there is room for them.
document.addEventListener("DOMContentLoaded", function () {
  if (window.matchMedia("(min-width: 720px)").matches) {
    document.querySelectorAll("details.more-filters").forEach(function (details) { details.open = true; });
  }
});

// The prospecting sheet's print button (no inline scripts: strict CSP). Shown only where it works.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});

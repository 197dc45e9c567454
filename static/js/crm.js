// Page behaviour without inline script (the Content-Security-Policy allows script-src 'self' only).
// Markup opts in with data attributes:
//   data-autosubmit          <select> submits its form on change
//   data-select-on-click     <input> selects its text on click (share links)
//   data-confirm="message"   <form> (on submit) or <button> (on click) asks first
//   .countdown[data-due]     live SLA countdown (Unix timestamp); data-overdue-label on the cell
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  document.addEventListener("click", function (event) {
    const input = event.target.closest("[data-select-on-click]");
    if (input) input.select();
    const button = event.target.closest("button[data-confirm], input[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  function pad(n) { return String(n).padStart(2, "0"); }

  function startCountdowns() {
    const cells = document.querySelectorAll(".countdown[data-due]");
    if (!cells.length) return;
    function tick() {
      const now = Date.now() / 1000;
      cells.forEach(function (cell) {
        let left = Math.round(Number(cell.dataset.due) - now);
        const overdue = left <= 0;
        left = Math.abs(left);
        const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
        const text = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
        cell.textContent = overdue ? (cell.dataset.overdueLabel || "") + " " + text : text;
        cell.classList.toggle("overdue", overdue);
        const row = cell.closest("tr");
        if (!row) return;
        row.classList.toggle("overdue", overdue);
        row.classList.toggle("soon", !overdue && left < 300);
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startCountdowns);
  else startCountdowns();
})();

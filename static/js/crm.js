// Page behaviour without inline script (the Content-Security-Policy allows script-src 'self' only).
// Markup opts in with data attributes:
//   data-autosubmit          <select> submits its form on change
//   data-select-on-click     <input> selects its text on click (share links)
//   data-confirm="message"   <form> (on submit) or <button> (on click) asks first
//   .countdown[data-due]     live SLA countdown (Unix timestamp); data-overdue-label on the cell
//   [data-menu-toggle]       the phone header's menu button (opens/closes the navigation)
//   [data-copy="text"]       copies text to the clipboard (WeChat ID), data-copied-label confirms
//   select[data-board-stage] on phones the stage board shows the chosen stage's column only
//   canvas[data-signature-pad="input-id"]  finger/mouse signature; each stroke puts the PNG into
//                            the (hidden) file input; button[data-signature-clear="input-id"] resets
//   input[type=file]         photos larger than MAX_PHOTO_BYTES or MAX_PHOTO_EDGE are scaled down
//                            in the browser before upload (a camera photo is 12 MB; the cap is 10 MB)
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-menu-toggle]");
    if (toggle) {
      const header = toggle.closest(".crm-topbar");
      const open = header.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      event.preventDefault();
      copyText(copy.dataset.copy).then(function () {
        const label = copy.textContent;
        copy.textContent = copy.dataset.copiedLabel || "✓";
        setTimeout(function () { copy.textContent = label; }, 1500);
      });
    }
    const input = event.target.closest("[data-select-on-click]");
    if (input) input.select();
    const button = event.target.closest("button[data-confirm], input[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
    return Promise.resolve();
  }

  // --- Stage board on a phone: one stage at a time ---------------------------------------------
  function showStage(select) {
    const board = document.getElementById(select.dataset.boardStage);
    if (!board) return;
    board.classList.add("crm-one-stage");
    board.querySelectorAll(".proj-column").forEach(function (column) {
      column.classList.toggle("is-current", column.dataset.stage === select.value);
    });
  }
  document.addEventListener("change", function (event) {
    const select = event.target.closest("select[data-board-stage]");
    if (select) showStage(select);
  });

  // --- Photos: scale down in the browser before upload -------------------------------------------
  const MAX_PHOTO_BYTES = 4 * 1024 * 1024;
  const MAX_PHOTO_EDGE = 2560;
  const pending = new WeakMap();  // form -> number of inputs still being processed

  // createImageBitmap decodes the file without a blob: URL (the CSP's img-src has no blob:).
  function loadImage(file) {
    if (typeof createImageBitmap !== "function") return Promise.reject(new Error("unsupported"));
    return createImageBitmap(file, { imageOrientation: "from-image" });
  }

  function downscale(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) return Promise.resolve(file);
    return loadImage(file).then(function (img) {
      const edge = Math.max(img.width, img.height);
      if (file.size <= MAX_PHOTO_BYTES && edge <= MAX_PHOTO_EDGE) return file;
      const scale = Math.min(1, MAX_PHOTO_EDGE / edge);
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale);
      canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      if (img.close) img.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          const name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified }));
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function setBusy(form, delta) {
    if (!form) return;
    const count = (pending.get(form) || 0) + delta;
    pending.set(form, count);
    form.toggleAttribute("data-photos-busy", count > 0);
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
      button.toggleAttribute("aria-busy", count > 0);
    });
  }

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.files.length) return;
    if (input.dataset.downscaled === "1") { delete input.dataset.downscaled; return; }
    if (typeof DataTransfer === "undefined") return;
    const files = Array.from(input.files);
    setBusy(input.form, 1);
    Promise.all(files.map(downscale)).then(function (scaled) {
      if (scaled.some(function (file, i) { return file !== files[i]; })) {
        const transfer = new DataTransfer();
        scaled.forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
        input.dataset.downscaled = "1";
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }).finally(function () { setBusy(input.form, -1); });
  });

  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-photos-busy")) event.preventDefault();
  }, true);

  // --- Signature pad: strokes on a canvas become a PNG in a file input -------------------------
  function signaturePad(canvas) {
    const input = document.getElementById(canvas.dataset.signaturePad);
    const context = canvas.getContext("2d");
    let drawing = false;
    context.lineWidth = 3;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";
    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width,
              (event.clientY - box.top) * canvas.height / box.height];
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      const [x, y] = point(event);
      context.beginPath();
      context.moveTo(x, y);
      context.lineTo(x + 0.1, y + 0.1);
      context.stroke();
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      const [x, y] = point(event);
      context.lineTo(x, y);
      context.stroke();
      event.preventDefault();
    });
    function finish() {
      if (!drawing) return;
      drawing = false;
      canvas.classList.add("is-signed");
      if (!input || typeof DataTransfer === "undefined") return;
      setBusy(input.form, 1);
      canvas.toBlob(function (blob) {
        if (blob) {
          const transfer = new DataTransfer();
          transfer.items.add(new File([blob], "signature.png", { type: "image/png" }));
          input.files = transfer.files;
        }
        setBusy(input.form, -1);
      }, "image/png");
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
  }
  document.addEventListener("click", function (event) {
    const clear = event.target.closest("[data-signature-clear]");
    if (!clear) return;
    const canvas = document.querySelector('canvas[data-signature-pad="' + clear.dataset.signatureClear + '"]');
    const input = document.getElementById(clear.dataset.signatureClear);
    if (canvas) {
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      canvas.classList.remove("is-signed");
    }
    if (input) input.value = "";
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

  function start() {
    startCountdowns();
    document.querySelectorAll("canvas[data-signature-pad]").forEach(signaturePad);
    document.querySelectorAll("select[data-board-stage]").forEach(function (select) {
      const first = select.querySelector("option:not([data-count='0'])");
      if (first && !select.querySelector("option[selected]")) select.value = first.value;
      showStage(select);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

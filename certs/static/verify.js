/* The verification page (GET /verify): paste, upload or scan a license QR code, then
 * POST its text to /api/v1/verify and show the verdict large, in the page's language.
 * QR decoding happens in the browser with jsQR (vendor/jsqr, Apache-2.0). No inline
 * script: the page's CSP allows only same-origin script files. */
(function () {
  "use strict";

  var root = document.getElementById("verify-page");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var locale = root.getAttribute("data-locale") === "en" ? "en" : "zh-CN";
  var strings = JSON.parse(document.getElementById("verify-strings").textContent);

  var textarea = document.getElementById("qr-text");
  var form = document.getElementById("paste-form");
  var fileInput = document.getElementById("qr-file");
  var message = document.getElementById("verify-message");
  var verdict = document.getElementById("verdict");
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var video = document.getElementById("camera");
  var canvas = document.getElementById("frame");
  var stream = null;

  function s(key) { return strings[key] || key; }

  /* Offline after the first visit: a service worker keeps the page and its files
   * (verdicts still need the server; without it the page says "offline"). */
  var worker = root.getAttribute("data-sw");
  if (worker && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(worker, { scope: root.getAttribute("data-sw-scope") })
      .catch(function () { /* no offline copy; the page works online as before */ });
  }

  function showMessage(text, kind) {
    message.textContent = text;
    message.className = "verify-message verify-message-" + (kind || "info");
    message.hidden = !text;
  }

  function field(list, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    var dt = document.createElement("dt");
    dt.textContent = label;
    var dd = document.createElement("dd");
    dd.textContent = String(value);
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function day(iso) { return iso ? iso.slice(0, 10) : null; }

  /* Three looks, never confused: green tick (valid), amber pause (suspended),
   * red cross (everything else, including malformed and forged). */
  function kindOf(result) {
    if (result.valid) { return "valid"; }
    if (result.state === "suspended") { return "warning"; }
    return "invalid";
  }

  function showVerdict(result) {
    var kind = kindOf(result);
    verdict.className = "verdict verdict-" + kind;
    verdict.setAttribute("data-state", result.state);
    document.getElementById("verdict-word").textContent =
      kind === "valid" ? s("verify.verdict_valid")
        : kind === "warning" ? s("verify.verdict_warning") : s("verify.verdict_invalid");
    document.getElementById("verdict-explanation").textContent =
      result.explanation[locale] || result.explanation["zh-CN"];
    var list = document.getElementById("verdict-fields");
    list.textContent = "";
    var lic = result.license;
    if (lic) {
      field(list, s("verify.field.id"), lic.id);
      field(list, s("verify.field.type"), lic.type_name ? lic.type_name[locale] : lic.type);
      field(list, s("verify.field.issuer"), lic.issuer.name || lic.issuer.credit_code);
      field(list, s("verify.field.holder"), lic.holder.name);
      field(list, s("verify.field.holder_id"), lic.holder.id_masked);
      Object.keys(lic.fields || {}).forEach(function (name) {
        var value = lic.fields[name];
        var labels = lic.field_labels && lic.field_labels[name];
        field(list, labels ? labels[locale] : name,
          typeof value === "object" ? JSON.stringify(value) : value);
      });
      field(list, s("verify.field.issued_at"), day(lic.issued_at));
      field(list, s("verify.field.expires_at"),
        lic.expires_at ? day(lic.expires_at) : s("verify.field.no_expiry"));
    }
    document.getElementById("verdict-source").textContent =
      result.checked_against === "online-status" ? s("verify.checked_online") : "";
    verdict.hidden = false;
    verdict.scrollIntoView({ block: "nearest" });
  }

  function check(text) {
    text = (text || "").trim();
    if (!text) { return; }
    verdict.hidden = true;
    showMessage(s("verify.checking"), "info");
    fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ qr: text }),
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json().then(function (result) {
        showMessage("", "info");
        showVerdict(result);
      });
    }, function () {
      /* fetch rejects only when the network failed: say so, and give no verdict. */
      showMessage(s("verify.offline"), "offline");
      throw null;
    }).catch(function (error) {
      if (error !== null) { showMessage(s("verify.server_error"), "error"); }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    check(textarea.value);
  });

  function decodeImageData(data) {
    var code = jsQR(data.data, data.width, data.height, { inversionAttempts: "attemptBoth" });
    return code ? code.data : null;
  }

  /* Large photos are scaled down first: jsQR's cost grows with the pixel count, and a
   * QR code in a phone photo is still hundreds of pixels wide at this size. */
  function imageToData(image) {
    var scale = Math.min(1, 1600 / Math.max(image.naturalWidth, image.naturalHeight));
    canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  }

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { return; }
    var url = URL.createObjectURL(file);
    var image = new Image();
    image.onload = function () {
      var text = decodeImageData(imageToData(image));
      URL.revokeObjectURL(url);
      if (text) {
        textarea.value = text;
        check(text);
      } else {
        verdict.hidden = true;
        showMessage(s("verify.no_qr"), "error");
      }
    };
    image.onerror = function () {
      URL.revokeObjectURL(url);
      showMessage(s("verify.no_qr"), "error");
    };
    image.src = url;
  });

  function stopCamera() {
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
  }

  function scanFrame() {
    if (!stream) { return; }
    if (video.readyState >= 2 && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var text = decodeImageData(context.getImageData(0, 0, canvas.width, canvas.height));
      if (text) {
        stopCamera();
        textarea.value = text;
        check(text);
        return;
      }
    }
    window.requestAnimationFrame(scanFrame);
  }

  startButton.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showMessage(s("verify.camera_error"), "error");
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        startButton.hidden = true;
        stopButton.hidden = false;
        return video.play();
      })
      .then(function () { window.requestAnimationFrame(scanFrame); })
      .catch(function () {
        stopCamera();
        showMessage(s("verify.camera_error"), "error");
      });
  });
  stopButton.addEventListener("click", stopCamera);
}());

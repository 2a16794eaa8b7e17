// The file check of the verification page: SHA-256 of the dropped or chosen file, computed in the browser and
// compared with the content hash the credential names. Served as a file (the page's CSP allows no inline script).
// Where WebCrypto is not available (plain http other than localhost), the file goes to the server's check instead.
(function () {
  "use strict";

  var form = document.getElementById("file-form");
  if (!form) {
    return;
  }
  var expected = form.getAttribute("data-expected-hash");
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var result = document.getElementById("file-result");

  function show(kind, text) {
    result.className = "file-result file-" + kind;
    result.setAttribute("data-result", kind);
    result.textContent = text;
  }

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i += 1) {
      out += bytes[i].toString(16).padStart(2, "0");
    }
    return out;
  }

  function digestInBrowser(file) {
    return file.arrayBuffer().then(function (data) {
      return crypto.subtle.digest("SHA-256", data);
    }).then(hex);
  }

  function digestOnServer(file) {
    return fetch(form.action, {
      method: "POST",
      body: file,
      headers: { "Accept": "application/json", "Content-Type": "application/octet-stream" },
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.detail || response.statusText);
        }
        return body.actual.replace(/^urn:sha256:/, "");
      });
    });
  }

  function check(file) {
    if (!file) {
      return;
    }
    var local = window.isSecureContext && window.crypto && window.crypto.subtle;
    show("pending", "Computing the SHA-256 of " + file.name + " (" + file.size.toLocaleString("en") + " bytes)\u2026");
    (local ? digestInBrowser(file) : digestOnServer(file)).then(function (actual) {
      if (actual === expected) {
        show("match", "Match: " + file.name + " has the SHA-256 the credential names (" + actual + ").");
      } else {
        show("mismatch", "No match: the SHA-256 of " + file.name + " is " + actual + ", the credential names " + expected + ".");
      }
    }).catch(function (error) {
      show("error", "The file could not be checked: " + error.message);
    });
  }

  input.addEventListener("change", function () {
    check(input.files[0]);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    check(input.files[0]);
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () {
      zone.classList.remove("dragging");
    });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) {
      input.files = files;
      check(files[0]);
    }
  });
})();

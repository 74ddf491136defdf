// flagyard console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // JSON fields are checked before the form is sent; the server checks them again.
  function checkJson(textarea) {
    var message = textarea.parentElement.querySelector("[data-json-error]");
    var text = textarea.value.trim();
    var problem = "";
    if (text) {
      try { JSON.parse(text); } catch (e) { problem = textarea.name + " is not valid JSON: " + e.message; }
    }
    if (message) { message.textContent = problem; message.hidden = !problem; if (problem) { message.id = message.id || textarea.id + "-json-error"; } }
    if (problem) { textarea.setAttribute("aria-invalid", "true"); if (message) textarea.setAttribute("aria-describedby", message.id); }
    else { textarea.removeAttribute("aria-invalid"); }
    return !problem;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var fields = form.querySelectorAll("textarea[data-json]");
    for (var i = 0; i < fields.length; i++) {
      if (!checkJson(fields[i])) { event.preventDefault(); fields[i].focus(); return; }
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-json]")) { checkJson(event.target); }
  });

  // Condition builder: add and remove condition rows.
  var counter = 0;
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.matches("[data-add-condition]")) {
      var list = target.parentElement.querySelector("[data-conditions]");
      var template = document.getElementById("condition-template");
      var row = template.content.firstElementChild.cloneNode(true);
      counter += 1;
      var suffix = list.getAttribute("data-prefix") + "-added-" + counter;
      row.querySelectorAll("[id]").forEach(function (el) {
        var label = row.querySelector('label[for="' + el.id + '"]');
        el.id = el.id.replace("new-", suffix + "-");
        if (label) label.setAttribute("for", el.id);
      });
      list.appendChild(row);
      row.querySelector("input").focus();
    } else if (target.matches("[data-remove-condition]")) {
      var rowToGo = target.closest("[data-condition]");
      var next = rowToGo.parentElement.parentElement.querySelector("[data-add-condition]");
      rowToGo.remove();
      if (next) next.focus();
    } else if (target.matches("[data-copy]")) {
      var source = document.getElementById(target.getAttribute("data-copy"));
      var done = function () { target.textContent = "Copied"; setTimeout(function () { target.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* the key stays selected */ }
      }
    }
  });
})();

// Cohort member files: sent with a progress bar (the form still works without this), and the
// CSV format chosen when the file's name says so.
(function () {
  "use strict";

  function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-member-file]") || !input.files.length) return;
    var format = input.form.querySelector("select[name=format]");
    if (format && /\.csv$/i.test(input.files[0].name)) format.value = "csv";
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.hasAttribute("data-upload") || !window.FormData) return;
    var mode = form.querySelector("input[name=mode]:checked");
    if (mode && mode.value === "replace" &&
        !window.confirm("Replace every member of this cohort with the ids in the file?")) {
      event.preventDefault();
      return;
    }
    event.preventDefault();
    var box = form.querySelector("[data-upload-progress]");
    var bar = box.querySelector("progress");
    var status = box.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    var shown = -1;
    box.hidden = false;
    bar.value = 0;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    status.textContent = "Sending the file…";

    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.floor(100 * e.loaded / e.total);
      bar.value = percent;
      // Words every tenth, so a screen reader is not flooded.
      if (Math.floor(percent / 10) !== shown) {
        shown = Math.floor(percent / 10);
        status.textContent = "Sending: " + megabytes(e.loaded) + " of " + megabytes(e.total) + " (" + percent + "%)";
      }
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value");  // indeterminate while the server checks and saves
      status.textContent = "Sent. Checking every line, then saving…";
    });
    request.addEventListener("load", function () {
      var type = request.getResponseHeader("content-type") || "";
      if (request.status < 300 && /[?&]done=/.test(request.responseURL)) {
        window.location.assign(request.responseURL);
        return;
      }
      if (type.indexOf("text/html") === 0) {
        // The page again, with the refusal by its field: show its main part in place.
        var page = new DOMParser().parseFromString(request.responseText, "text/html");
        var main = page.querySelector("main");
        if (main) {
          document.querySelector("main").replaceWith(main);
          var invalid = main.querySelector("[aria-invalid=true]") || main.querySelector("[role=alert]");
          if (invalid) { if (!invalid.hasAttribute("tabindex") && !invalid.matches("input, select, textarea")) invalid.setAttribute("tabindex", "-1"); invalid.focus(); }
          return;
        }
      }
      var message = "The upload was refused (" + request.status + ")";
      try { message = JSON.parse(request.responseText).error.message; } catch (e) { /* not JSON */ }
      fail(message);
    });
    request.addEventListener("error", function () { fail("The upload failed: the connection was lost. Nothing was changed; try again."); });

    function fail(message) {
      bar.value = 0;
      status.textContent = message;
      status.classList.add("field-error");
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }

    request.send(new FormData(form));
  });
})();

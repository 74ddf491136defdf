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

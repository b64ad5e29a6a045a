// splitlab dashboard: progressive enhancement only; every page works without JavaScript.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Ask before a status change or toggle; the server still validates everything.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      const form = button.form;
      if (form && !form.checkValidity()) {
        return; // let the browser point at the missing reason
      }
      if (document.body.dataset.noConfirm === "1") {
        return;
      }
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
  // Show the value of a chart mark on hover (the values are in data-* attributes).
  for (const mark of document.querySelectorAll("svg.chart [data-estimate], svg.chart [data-z]")) {
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    const parts = [];
    if (mark.dataset.label) parts.push(mark.dataset.label);
    if (mark.dataset.look) parts.push("look " + mark.dataset.look);
    if (mark.dataset.estimate) parts.push("effect " + Number(mark.dataset.estimate).toFixed(2) + "%");
    if (mark.dataset.lower && mark.dataset.upper) {
      parts.push("[" + Number(mark.dataset.lower).toFixed(2) + "%, " + Number(mark.dataset.upper).toFixed(2) + "%]");
    }
    if (mark.dataset.z) parts.push("z " + Number(mark.dataset.z).toFixed(2));
    if (mark.dataset.note) parts.push(mark.dataset.note);
    title.textContent = parts.join(" · ");
    mark.appendChild(title);
  }
});

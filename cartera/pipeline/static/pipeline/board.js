// The board's drag and drop: a card dropped on another column is moved there by posting the same
// "move to" form the card carries (which also works alone, without JavaScript, from the keyboard or a
// phone). After the server accepts the move, the page is reloaded so the column totals stay right.
// No inline script or style: this file is served by the app (CSP).
(function () {
  "use strict";

  function csrf(card) {
    const input = card.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function move(card, stage) {
    const body = new FormData();
    body.append("stage", stage);
    card.classList.add("moving");
    return fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(card), Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  function setup(board) {
    let dragged = null;
    board.addEventListener("dragstart", function (event) {
      const card = event.target.closest && event.target.closest("li.deal");
      if (!card) return;
      dragged = card;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.id);
      card.classList.add("dragging");
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      board.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
    });
    board.querySelectorAll("[data-drop]").forEach(function (list) {
      const column = list.closest(".board-col");
      list.addEventListener("dragover", function (event) {
        if (!dragged) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        column.classList.add("drop-target");
      });
      list.addEventListener("dragleave", function (event) {
        if (!list.contains(event.relatedTarget)) column.classList.remove("drop-target");
      });
      list.addEventListener("drop", function (event) {
        event.preventDefault();
        column.classList.remove("drop-target");
        const card = dragged;
        dragged = null;
        if (!card || card.closest("[data-drop]") === list) return;
        list.prepend(card);
        move(card, list.dataset.drop)
          .then(function () { window.location.reload(); })
          .catch(function (error) {
            card.classList.remove("moving");
            window.alert(error.message);
            window.location.reload();
          });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-board]").forEach(setup);
  });
})();

// The Channels page (/admin/channels): a Copy button beside each webhook URL and widget snippet.
// Without clipboard access (an insecure origin) the text is selected for the admin to copy by hand.
(function () {
  "use strict";
  const root = document.querySelector("[data-testid=admin-channels]");
  if (!root) return;
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action=copy]");
    if (!button) return;
    const code = button.parentElement.querySelector("code");
    try {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = button.dataset.done;
    } catch (err) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  });
})();

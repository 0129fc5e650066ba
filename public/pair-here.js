// A device that is not the server can also pair by pasting its link. An iPhone needs this: the
// Home Screen app opens "/" (the manifest's start_url), never the link Safari was opened with,
// and it does not share Safari's storage. So Safari offers the link to copy, the app a place to
// paste it. No <form>: the page's CSP has form-action 'none'.
import { keepPairingToken, pairingLink, tokenFrom } from '/pairing.js';

const $ = (id) => document.getElementById(id);

/** Wires "Paste the pairing link": a link is kept and `paired()` runs; anything else, it says why. */
export function offerPaste(paired) {
  const input = $('paste-input');
  const error = $('paste-error');
  const use = () => {
    const token = tokenFrom(input.value);
    if (!token) {
      error.textContent = `That is not a pairing link (one looks like ${location.origin}/#pair=…). Copy it again and paste it here.`;
      return;
    }
    keepPairingToken(token);
    input.value = '';
    error.textContent = '';
    paired();
  };
  $('paste-button').addEventListener('click', use);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') use();
  });
}

/** In Safari, before Add to Home Screen: the pairing link this tab holds, and a Copy button. */
export function offerCopy() {
  const link = pairingLink();
  if (!link) return;
  const field = $('copy-link');
  const done = $('copy-done');
  field.value = link;
  $('copy').hidden = false;
  $('copy-button').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      done.textContent = 'Copied. Now open the app from the Home Screen and paste it there.';
    } catch {
      field.select();
      done.textContent = 'Copy the selected link, then open the app and paste it there.';
    }
  });
}

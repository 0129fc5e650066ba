// "Add a phone", on the server's own browser only: the LAN address, a pairing link and its QR
// code, the certificate authority. Loaded by app.js on a loopback origin, and nowhere else.
import { api } from '/api.js';

const $ = (id) => document.getElementById(id);

function setLink(id, url) {
  $(id).href = url;
  $(id).textContent = url;
}

async function newLink() {
  const button = $('new-link');
  button.disabled = true;
  try {
    const { url, expiresAt, qr } = await api('POST', '/api/pairings');
    $('pair-qr').src = qr;
    setLink('pair-link', url);
    const expiry = $('pair-expiry');
    expiry.dateTime = expiresAt;
    expiry.textContent = new Date(expiresAt).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
    });
    $('phone-error').textContent = '';
  } catch (error) {
    $('phone-error').textContent = `Could not make a pairing link: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Fills the section from GET /api/pairing-info; a page not on the server itself shows nothing. */
export async function showPhoneSection() {
  let info;
  try {
    info = await api('GET', '/api/pairing-info');
  } catch {
    return; // 403: not the server's own browser (say, another name for this machine)
  }
  $('phone').hidden = false;
  if (!info.lan) {
    $('phone-off').hidden = false;
    $('phone-restart').hidden = info.problem !== 'loopback-only';
    $('phone-off-reason').textContent =
      info.problem === 'loopback-only'
        ? 'The server listens on this machine only (HOST is a loopback address), so a phone cannot reach it.'
        : `A phone cannot reach this server yet: ${info.message}.`;
    return;
  }
  $('phone-on').hidden = false;
  setLink('lan-url', info.origin);
  if (info.caFingerprint) {
    $('ca').hidden = false;
    setLink('ca-url', info.caUrl);
    $('ca-qr').src = info.caQr;
    $('ca-fingerprint').textContent = info.caFingerprint;
  }
  $('new-link').addEventListener('click', newLink);
  await newLink();
}

// "Send a notification": POST /api/send with the options of npm run send, checked by the same
// parser. Every named field of the form is sent as it stands (empty ones left out), so a new
// text option needs only its field in index.html; ticked boxes are sent as true, the button
// fields as `actions`, the local time as ISO 8601 with its zone.
import { api } from '/api.js';

const $ = (id) => document.getElementById(id);

/** Offers every device under "To", after "Every device"; keeps the one chosen if it is still there. */
export function fillRecipients(devices) {
  const select = $('send-to');
  const chosen = select.value;
  const names = devices.map(({ name }) => new Option(name, name));
  select.replaceChildren(new Option('Every device', 'all'), ...names);
  select.value = [...select.options].some((option) => option.value === chosen) ? chosen : 'all';
}

function showReport({ delivered, removed, failed }) {
  const lines = [`Delivered: ${delivered}.`];
  if (removed > 0)
    lines.push(`Removed as gone: ${removed} (their push service says they no longer exist).`);
  if (failed.length > 0) lines.push(`Failed: ${failed.length}.`);
  const summary = document.createElement('p');
  summary.textContent = lines.join(' ');
  const reasons = document.createElement('ul');
  for (const { host, status, reason } of failed) {
    const item = document.createElement('li');
    item.className = 'failed';
    item.textContent = `${host}: ${status ? `${status} ` : ''}${reason}`;
    reasons.append(item);
  }
  $('send-report').replaceChildren(summary, ...(failed.length > 0 ? [reasons] : []));
}

/** The form as the fields of POST /api/send. */
function fieldsOf(form) {
  const data = new FormData(form);
  const fields = {};
  for (const [name, value] of data) {
    if (!name.startsWith('action-') && value.trim() !== '') fields[name] = value.trim();
  }
  for (const box of form.querySelectorAll('input[type="checkbox"]')) {
    if (box.checked) fields[box.name] = true;
  }
  const urls = data.getAll('action-url');
  const actions = data
    .getAll('action-title')
    .map((title, index) => ({ title: title.trim(), url: (urls[index] ?? '').trim() }))
    .filter(({ title, url }) => title !== '' || url !== '');
  if (actions.length > 0) fields.actions = actions;
  // datetime-local is this browser's local time: sent with its offset, as UTC.
  if (fields.timestamp) fields.timestamp = new Date(fields.timestamp).toISOString();
  return fields;
}

/** Sends the form's notification and shows the report; `after` runs once it is done. */
export function setUpSendForm(after) {
  const form = $('send-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    $('send-report').textContent = 'Sending…';
    try {
      showReport(await api('POST', '/api/send', fieldsOf(form)));
    } catch (error) {
      $('send-report').textContent = `Not sent: ${error.message}`;
    } finally {
      button.disabled = false;
      await after();
    }
  });
}

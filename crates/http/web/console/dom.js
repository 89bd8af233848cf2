// Small DOM helpers shared by the console views; nodes are built with DOM calls and `textContent`, never HTML strings.

import { ApiError, WEBHOOK_FIELDS } from './api.js';

/** An element: `props` sets properties (`class`, `text`, `on…` listeners, attributes). */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (['checked', 'disabled', 'required', 'value', 'hidden', 'open', 'selected', 'readOnly'].includes(name)) node[name] = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** What each live list last showed: unchanged answers leave the DOM (and focus) alone. */
export const shown = new WeakMap();

export function changed(holder, data) {
  const key = JSON.stringify(data);
  if (shown.get(holder) === key) return false;
  shown.set(holder, key);
  return true;
}

let fieldSerial = 0;
/** A labelled input (or select): the label names it for assistive technology. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = `f${++fieldSerial}`;
  const hintNode = hint ? h('span', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
  return h('div', { class: 'field' }, h('label', { for: control.id, text: labelText }), control, hintNode);
}

/** A line that says how an action went; polite live region. */
export function statusLine(id) {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id });
}

export function say(line, text, kind = 'ok') {
  line.className = `status ${kind}`;
  line.textContent = text;
}

/** Runs `work` for a button or form: disables the button, reports errors on `line`. */
export async function act(button, line, work) {
  if (button) button.disabled = true;
  if (line) say(line, 'Working…', 'busy');
  try {
    const result = await work();
    return result;
  } catch (error) {
    if (line) say(line, describe(error), 'error');
    else console.error(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function describe(error) {
  if (error instanceof ApiError) {
    const code = error.code !== undefined ? ` (code ${error.code}${error.subcode ? `/${error.subcode}` : ''})` : '';
    return `${error.message}${code}`;
  }
  return String(error && error.message ? error.message : error);
}

export function table(caption, headers, rows, empty) {
  const head = h('tr', {}, headers.map((text) => h('th', { scope: 'col', text })));
  const body = h('tbody');
  if (!rows.length) body.append(h('tr', {}, h('td', { colspan: headers.length, class: 'empty', text: empty })));
  for (const row of rows) body.append(row);
  return h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'visually-hidden', text: caption }), h('thead', {}, head), body));
}

export function section(title, id, ...children) {
  return h('section', { class: 'panel', 'aria-labelledby': `${id}-heading`, id }, h('h2', { id: `${id}-heading`, text: title }), children);
}

export function formatTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const date = new Date(ms);
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function timeNode(ms) {
  if (ms === null || ms === undefined) return '–';
  return h('time', { datetime: new Date(ms).toISOString(), text: formatTime(ms) });
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const parts = (big, bigUnit, small, smallUnit) => (small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`);
  if (s < 3600) return parts(Math.floor(s / 60), 'min', s % 60, 's');
  if (s < 86400) return parts(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'min');
  return parts(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h');
}


export function copyButton(getText, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'secondary', text: label });
  button.addEventListener('click', async () => {
    const text = getText();
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy by hand';
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
  return button;
}

/** A secret shown in a read-only box with a copy button. */
export function secretBox(labelText, value, id) {
  const input = h('input', { type: 'text', readOnly: true, value, class: 'secret', id, spellcheck: 'false', autocomplete: 'off' });
  input.addEventListener('focus', () => input.select());
  return h('div', { class: 'field secret-field' }, h('label', { for: input.id || (input.id = `f${++fieldSerial}`), text: labelText }), h('div', { class: 'row' }, input, copyButton(() => input.value)));
}

export function fieldCheckboxes(name, checked, legend) {
  const boxes = WEBHOOK_FIELDS.map((fieldName) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name, value: fieldName, checked: checked.includes(fieldName) }), fieldName));
  return h('fieldset', { class: 'fields' }, h('legend', { text: legend }), h('div', { class: 'checks' }, boxes));
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

// Copy to the clipboard, with a fallback for pages served over plain HTTP
// to another machine, where navigator.clipboard does not exist.

import { announce, h } from './dom.js';

/** Copies text; answers whether it worked. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission refused: try the old way
    }
  }
  const area = h('textarea', { value: text, readOnly: true, class: 'offscreen', 'aria-hidden': 'true' });
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

/**
 * A button that copies `text()` and says so for a moment.
 * @param {() => string} text
 * @param {string} context what is copied, read after the caption by screen readers: "code SUMMER-26"
 * @param {{class?: string, caption?: string}} [options]
 */
export function copyButton(text, context, options = {}) {
  const caption = options.caption ?? 'Copy';
  const visible = h('span', { text: caption });
  const button = h(
    'button',
    { type: 'button', class: options.class ?? 'button copy' },
    visible,
    h('span', { class: 'visually-hidden', text: ` ${context}` }),
  );
  let timer;
  button.addEventListener('click', async () => {
    const copied = await copyText(text());
    visible.textContent = copied ? 'Copied' : 'Copy failed';
    button.classList.toggle('done', copied);
    announce(copied ? `Copied ${context}.` : `Could not copy ${context}; select it and copy it by hand.`);
    clearTimeout(timer);
    timer = setTimeout(() => {
      visible.textContent = caption;
      button.classList.remove('done');
    }, 2000);
  });
  return button;
}

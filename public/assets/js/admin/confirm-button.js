// A button for an action that cannot be undone: the first press asks, a
// second press within a few seconds does it.

import { h } from '../dom.js';

const ARM_MS = 4000;

/**
 * @param {string} label e.g. "Revoke"
 * @param {string} context read by screen readers after the label: "code SUMMER-26"
 * @param {() => Promise<void>} action
 */
export function confirmButton(label, context, action) {
  const caption = h('span', { text: label });
  const button = h(
    'button',
    { type: 'button', class: 'button small danger' },
    caption,
    h('span', { class: 'visually-hidden', text: ` ${context}` }),
  );
  let armed;
  const disarm = () => {
    clearTimeout(armed);
    armed = undefined;
    caption.textContent = label;
    button.classList.remove('confirming');
  };
  button.addEventListener('click', async () => {
    if (armed === undefined) {
      caption.textContent = `Confirm ${label.toLowerCase()}`;
      button.classList.add('confirming');
      armed = setTimeout(disarm, ARM_MS);
      return;
    }
    disarm();
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
  button.addEventListener('blur', disarm);
  return button;
}

// How the embed looks: a theme (auto, light, dark) and an accent colour,
// from its URL (checked by the server) or a codecast:theme message (checked
// in parent-messages.js). Only these two: the embedding page cannot restyle
// anything else, so it cannot make the list say what it does not.

export const THEMES = ['auto', 'light', 'dark'];
const HEX = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i;
const ACCENT_PROPERTIES = ['--accent', '--accent-hover', '--accent-soft', '--on-accent'];

/** `#rrggbb` for 3 or 6 hex digits with or without `#`; undefined for anything else. */
export function normaliseAccent(text) {
  const hex = typeof text === 'string' ? HEX.exec(text)?.[1] : undefined;
  if (hex === undefined) return undefined;
  return `#${(hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex).toLowerCase()}`;
}

/** WCAG 2's relative luminance of `#rrggbb`. */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((at) => {
    const c = Number.parseInt(hex.slice(at, at + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white, whichever reads better on the accent: one of them always has a contrast of 4.5 or more. */
function textOn(hex) {
  const l = luminance(hex);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000000' : '#ffffff';
}

/**
 * Applies a look to the page's root element.
 * @param {HTMLElement} root
 * @param {{theme?: string, accent?: string | null}} look undefined leaves a part as it is; accent null goes back to the page's own
 */
export function applyLook(root, look) {
  if (look.theme !== undefined) root.dataset.theme = look.theme;
  if (look.accent === null) {
    for (const property of ACCENT_PROPERTIES) root.style.removeProperty(property);
    root.dataset.accent = '';
  } else if (look.accent !== undefined) {
    const accent = look.accent;
    // Set through the CSSOM, which the page's CSP (no inline styles) allows.
    root.style.setProperty('--accent', accent);
    root.style.setProperty('--accent-hover', `color-mix(in srgb, ${accent} 82%, var(--text))`);
    root.style.setProperty('--accent-soft', `color-mix(in srgb, ${accent} 14%, var(--surface))`);
    root.style.setProperty('--on-accent', textOn(accent));
    root.dataset.accent = accent;
  }
}

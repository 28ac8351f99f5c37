// How numbers, times and durations read on the pages.

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** `10:04:31` today, else the date too. */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? clock.format(date) : dateTime.format(date);
}

export function formatDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

export function formatInteger(n) {
  return typeof n === 'number' && Number.isFinite(n) ? integer.format(n) : '—';
}

export function formatNumber(n) {
  return typeof n === 'number' && Number.isFinite(n) ? decimal.format(n) : '—';
}

/** A code's value as written by the publisher; none is a dash. */
export function formatValue(value) {
  return value === null || value === undefined ? '—' : decimal.format(value);
}

/** `42 s`, `4 min 05 s`, `2 h 10 min`, `3 d 4 h`. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `840 ms`, `4.2 s`. */
export function formatLatency(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${decimal.format(ms / 1000)} s`;
}

/** `12.3 MB`. */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Time left until `expiresAt`: `{text, expired}`; no expiry reads "no expiry". */
export function timeLeft(expiresAt, now = Date.now()) {
  if (!expiresAt) return { text: 'No expiry', expired: false };
  const left = Date.parse(expiresAt) - now;
  if (left <= 0) return { text: 'Expired', expired: true };
  return { text: `Expires in ${formatDuration(left)}`, expired: false };
}

/** `1 connection`, `3 connections`. */
export function plural(n, one, many = `${one}s`) {
  return `${formatInteger(n)} ${n === 1 ? one : many}`;
}

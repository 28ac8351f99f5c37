// Optional alerts for new codes: a short chime and a browser notification.
// Both are off until the subscriber turns them on; the choice is remembered
// in localStorage (it is a preference, not a secret).

const SOUND_KEY = 'codecast.sound';
const NOTIFY_KEY = 'codecast.notifications';
const GATHER_MS = 400;

function remembered(key) {
  try {
    return localStorage.getItem(key) === 'on';
  } catch {
    return false;
  }
}

function remember(key, on) {
  try {
    localStorage.setItem(key, on ? 'on' : 'off');
  } catch {
    // storage disabled: the toggle still works for this visit
  }
}

export class Alerts {
  #sound;
  #notify;
  #notice;
  #audio;
  #pending = [];
  #timer;

  /**
   * @param {HTMLInputElement} soundToggle
   * @param {HTMLInputElement} notifyToggle
   * @param {(message: string) => void} notice tells the subscriber why a toggle could not be turned on
   */
  constructor(soundToggle, notifyToggle, notice) {
    this.#sound = soundToggle;
    this.#notify = notifyToggle;
    this.#notice = notice;

    this.#sound.checked = remembered(SOUND_KEY);
    this.#sound.addEventListener('change', () => {
      remember(SOUND_KEY, this.#sound.checked);
      // A click is the gesture browsers require before a page may play sound.
      if (this.#sound.checked) this.#chime();
    });

    const supported = 'Notification' in window;
    this.#notify.checked = supported && remembered(NOTIFY_KEY) && Notification.permission === 'granted';
    if (!supported) {
      this.#notify.disabled = true;
      this.#notify.closest('label')?.setAttribute('title', 'This browser cannot show notifications.');
    }
    this.#notify.addEventListener('change', () => void this.#toggleNotifications());
    // A chime remembered from an earlier visit can sound after the first click.
    addEventListener('pointerdown', () => void this.#audio?.resume(), { once: true });
  }

  /** A code arrived on the stream; alerts for codes arriving together are merged into one. */
  newCode(code) {
    if (!this.#sound.checked && !this.#notify.checked) return;
    this.#pending.push(code);
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#fire(), GATHER_MS);
  }

  async #toggleNotifications() {
    if (!this.#notify.checked) {
      remember(NOTIFY_KEY, false);
      return;
    }
    let permission = Notification.permission;
    if (permission === 'default') permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      this.#notify.checked = false;
      this.#notice('Notifications are blocked for this site. Allow them in the browser’s site settings, then turn this on again.');
    }
    remember(NOTIFY_KEY, this.#notify.checked);
  }

  #fire() {
    const codes = this.#pending;
    this.#pending = [];
    this.#timer = undefined;
    if (codes.length === 0) return;
    if (this.#sound.checked) this.#chime();
    // While the subscriber looks at the page, the new card is alert enough.
    if (this.#notify.checked && Notification.permission === 'granted' && (document.hidden || !document.hasFocus())) {
      const newest = codes[codes.length - 1];
      const title = codes.length === 1 ? `New code: ${newest.code}` : `${codes.length} new codes`;
      const body = codes.length === 1 ? (newest.message ?? '') : codes.map((c) => c.code).join(', ');
      const notification = new Notification(title, { body, tag: 'codecast', icon: '/assets/img/favicon.svg' });
      notification.addEventListener('click', () => {
        window.focus();
        notification.close();
      });
    }
  }

  #chime() {
    try {
      this.#audio ??= new AudioContext();
      const ctx = this.#audio;
      void ctx.resume();
      const start = ctx.currentTime + 0.01;
      for (const [offset, frequency] of [
        [0, 880],
        [0.14, 1320],
      ]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'sine';
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.18, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.25);
        osc.connect(gain).connect(ctx.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.3);
      }
    } catch {
      // no audio device: the toggle stays on, silently
    }
  }
}

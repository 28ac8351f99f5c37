// The page that frames codecast's embed, played by a page of the second
// origin's server (cross-origin-page.ts): it adds the iframe, records every
// message that reaches it, and posts to the frame as a site's page would.
import type { Frame, Page } from 'playwright-core';

/** A message the parent page heard: who sent it (origin, which frame) and what it said. */
export interface HeardMessage {
  readonly origin: string;
  /** The id of the iframe whose window sent it, or null for any other window. */
  readonly frame: string | null;
  readonly data: { type: string; data?: any; source?: string; nonce?: string; [key: string]: unknown };
}

/** Adds `<iframe id=… src=…>` to the page, which records what reaches it in `window.heard`. */
export async function frameEmbed(page: Page, src: string, id = 'embed'): Promise<void> {
  await page.evaluate(
    ({ src, id }) => {
      const w = window as unknown as { heard?: HeardMessage[] };
      if (!w.heard) {
        const heard: HeardMessage[] = [];
        w.heard = heard;
        addEventListener('message', (event) => {
          const frame = [...document.querySelectorAll('iframe')].find((f) => f.contentWindow === event.source);
          heard.push({ origin: event.origin, frame: frame?.id ?? null, data: event.data });
        });
      }
      const frame = document.createElement('iframe');
      frame.id = id;
      frame.title = 'Live codes';
      frame.allow = 'clipboard-write';
      frame.width = '420';
      frame.height = '600';
      frame.addEventListener('load', () => {
        frame.dataset.loaded = 'true';
      });
      frame.src = src;
      document.body.append(frame);
    },
    { src, id },
  );
  await page.locator(`iframe#${id}[data-loaded="true"]`).waitFor({ state: 'attached' });
}

/** Everything the parent page heard so far, from the frame `id` when given. */
export async function heard(page: Page, id?: string): Promise<HeardMessage[]> {
  const all = await page.evaluate(() => (window as unknown as { heard?: HeardMessage[] }).heard ?? []);
  return id === undefined ? all : all.filter((message) => message.frame === id);
}

/** Posts `message` to the frame `id`, for `targetOrigin` only (the parent's side of the handshake). */
export async function postToFrame(page: Page | Frame, message: unknown, targetOrigin: string, id = 'embed'): Promise<void> {
  await page.evaluate(
    ({ message, targetOrigin, id }) => {
      const frame = document.getElementById(id) as HTMLIFrameElement | null;
      if (!frame?.contentWindow) throw new Error(`no frame #${id}`);
      frame.contentWindow.postMessage(message, targetOrigin);
    },
    { message, targetOrigin, id },
  );
}

/** The embed's frame in the page: the document loaded from `url` (codecast's origin). */
export function embedFrame(page: Page, url: string): Frame | undefined {
  return page.frames().find((frame) => frame !== page.mainFrame() && frame.url().startsWith(`${url}/embed`));
}
